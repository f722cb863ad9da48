"""Where things are in the UI: a record's page and the page a task is worked on."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

# Task steps whose tasks belong to a field-operations record, not a case: step -> the record's pages.
RECORD_PAGES = {"sweep": "/sweeps", "correction": "/corrections", "rectification": "/ledger"}


def record_href(base: str, record_id: str) -> str:
    return f"{base}/{quote(record_id, safe='')}"


def task_href(task: dict[str, Any]) -> str:
    """Where a task is worked on: its case page, or the task page for field-operations tasks."""
    if task.get("step") in RECORD_PAGES:
        return record_href("/tasks", task["task_id"])
    return record_href("/cases", task["case_id"])


def owner_href(task: dict[str, Any]) -> str:
    """The page of the record (case, sweep, correction, ledger item) a task belongs to."""
    return record_href(RECORD_PAGES.get(task.get("step") or "", "/cases"), task["case_id"])


def return_href(task: dict[str, Any]) -> str:
    """Where to go from a task's page: its record, or for a sweep visit the inbox (a grid worker's
    region is a village, the sweep's usually a township they cannot open)."""
    return "/" if task.get("step") == "sweep" else owner_href(task)


def query_href(path: str, **params: Any) -> str:
    """`path` with the non-empty `params` as its query (True as "true")."""
    shown = {k: "true" if v is True else str(v) for k, v in params.items() if v not in (None, "", False)}
    return f"{path}?{urlencode(shown)}" if shown else path


def cases_href(**params: Any) -> str:
    """The case list filtered by `params` (the parameters of `GET /v1/cases`)."""
    return query_href("/cases", **params)
