"""Shared by the field-operations pages (sweeps, corrections, ledger, data quality): list columns and
detail facts described as data (one template renders them all), entry forms built from the API's own
request models with their errors keyed by field, and where a task's page is."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ValidationError

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError, validation_detail
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_workflow.projection.models import OPEN_TASK_STATUSES
from safetynet_workflow.ui.render import page
from safetynet_workflow.ui.taskforms import (
    FieldSpec,
    FormState,
    FormValues,
    form_state,
    model_fields,
    parse_fields,
    submitted_values,
)

Model = TypeVar("Model", bound=BaseModel)


class Cell(StrEnum):
    TEXT = "text"
    TIME = "time"
    LABEL = "label"  # the catalogue text `<prefix><value>`
    LATE = "late"  # an overdue badge when true
    LINK = "link"  # the row's detail page
    REGION = "region"  # a region code shown by its name


@dataclass(frozen=True)
class Column:
    key: str
    label: str  # catalogue key
    cell: Cell = Cell.TEXT
    prefix: str = ""


def is_late(row: dict[str, Any], now: datetime | None = None) -> bool:
    """Open and past its deadline (or already marked overdue)."""
    if row.get("task_status", row.get("status")) not in OPEN_TASK_STATUSES:
        return False
    due = row.get("due_at")
    return bool(row.get("overdue")) or (isinstance(due, datetime) and due < (now or datetime.now(UTC)))


def may(principal: Principal, roles: Iterable[str]) -> bool:
    return principal.role is Role.ADMIN or principal.role.value in roles


def listing(
    request: Request,
    principal: Principal,
    area: str,
    columns: tuple[Column, ...],
    rows: list[dict[str, Any]],
    **context: Any,
) -> Response:
    """A list page of `area` (its texts are `<area>.*`, its table id is `area`)."""
    return page(request, "listing.html", principal=principal, area=area, columns=columns, rows=rows, **context)


def record(
    request: Request, principal: Principal, area: str, item: dict[str, Any], facts: tuple[Column, ...], **context: Any
) -> Response:
    """A detail page of `area`: the facts as a definition list, then the area's own sections."""
    return page(request, "record.html", principal=principal, area=area, item=item, facts=facts, **context)


def body_errors(exc: ValidationError, whole: str) -> list[dict[str, Any]]:
    """A request model's validation errors as the API reports them; errors of the whole model (its
    cross-field checks) go to the `whole` field."""
    return [{**e, "loc": ["body", *(e["loc"] or [whole])]} for e in validation_detail(list(exc.errors()))]


async def submit(
    model: type[Model],
    specs: list[FieldSpec],
    values: FormValues,
    call: Callable[[Model], Awaitable[dict[str, Any]]],
    *,
    whole: str = "",
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data,
) -> tuple[dict[str, Any] | None, FormState | None, int]:
    """Validate a submitted form with the API's request model and call the API's handler with it:
    (result, None, 200), or (None, the form with its errors, status)."""
    try:
        body = model.model_validate(prepare(parse_fields(specs, values)))
    except ValidationError as exc:
        return None, form_state(specs, values, body_errors(exc, whole)), 422
    try:
        return await call(body), None, 200
    except ApiError as exc:
        return None, form_state(specs, values, exc.body["detail"]), exc.status


@dataclass(frozen=True)
class EntryForm:
    """An entry form of `area` made from the API's request model (without the `skip` fields): errors of
    the whole model go to the `whole` field, `prepare` types the parsed values first."""

    area: str
    model: type[BaseModel]
    list_href: str
    skip: tuple[str, ...] = ()
    whole: str = ""
    prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda data: data

    def fields(self, policy: WorkflowPolicy) -> list[FieldSpec]:
        return model_fields(self.model, policy, self.skip)

    def page(
        self,
        request: Request,
        principal: Principal,
        policy: WorkflowPolicy,
        state: FormState | None = None,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        """The form: fresh, prefilled (a state without errors) or shown again with its errors."""
        return page(
            request, "entry.html", status_code=status_code, principal=principal, area=self.area,
            specs=self.fields(policy), state=state, list_href=self.list_href, **context,
        )  # fmt: skip

    async def handle(
        self,
        request: Request,
        principal: Principal,
        policy: WorkflowPolicy,
        call: Callable[[Any], Awaitable[dict[str, Any]]],
        done: Callable[[dict[str, Any]], str],
        **context: Any,
    ) -> Response:
        """Submit through the API's handler `call`; then see the page `done(result)` names."""
        values = submitted_values(await request.form())
        result, state, status = await submit(
            self.model, self.fields(policy), values, call, whole=self.whole, prepare=self.prepare
        )
        if result is None:
            return self.page(request, principal, policy, state, status, **context)
        return RedirectResponse(done(result), status_code=303)


def prefilled(**values: str) -> FormState:
    """A fresh form with some fields filled in."""
    return FormState({k: [v] for k, v in values.items() if v}, {}, [])
