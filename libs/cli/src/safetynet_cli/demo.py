"""`make demo`: load a synthetic 陇县 into the running stack and print what happened."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections import Counter
from typing import Any

import httpx
import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safetynet_cli import synthetic
from safetynet_core.testing import read_stack_env

console = Console()
DEMO_PASSWORD = "demo-pass-2026"
BATCH_LINES = 2000
VILLAGE = synthetic.villages()[7]
DEMO_USERS = [
    ("demo_county", "county_officer", synthetic.COUNTY_CODE, None),
    ("demo_township", "township_officer", VILLAGE.township_code, None),
    ("demo_village", "village_cadre", VILLAGE.code, None),
    ("demo_grid", "grid_worker", VILLAGE.code, None),
    ("demo_medical", "department_officer", synthetic.COUNTY_CODE, "medical_insurance"),
    ("demo_civil", "department_officer", synthetic.COUNTY_CODE, "civil_affairs"),
    ("demo_auditor", "auditor", synthetic.COUNTY_CODE, None),
    ("demo_admin", "admin", "", None),
]


def _cli(stack: dict[str, str], *args: str) -> str:
    result = subprocess.run([stack["SAFETYNET_CLI"], *args], capture_output=True, text=True, check=False)
    if result.returncode != 0 and "exists" not in result.stderr:
        raise RuntimeError(f"safetynet {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def _api_keys(stack: dict[str, str], departments: set[str]) -> dict[str, str]:
    keys = {}
    for department in sorted(departments):
        output = _cli(stack, "clients", "create", "--department", department, "--name", f"demo {department}")
        created = json.loads(output)
        keys[department] = created["api_key"]
    return keys


def _users(stack: dict[str, str]) -> None:
    for username, role, region, department in DEMO_USERS:
        args = ["users", "create", "--username", username, "--password", DEMO_PASSWORD, "--role", role,
                "--region", region, "--email", f"{username}@demo.safetynet.local"]
        if department:
            args += ["--department", department]
        _cli(stack, *args)


async def _post_batches(client: httpx.AsyncClient, path: str, key: str, lines: list[dict[str, Any]],
                        progress: Progress, task: Any) -> Counter[str]:
    totals: Counter[str] = Counter()
    for start in range(0, len(lines), BATCH_LINES):
        chunk = lines[start:start + BATCH_LINES]
        body = b"\n".join(orjson.dumps(line) for line in chunk)
        response = await client.post(path, content=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"})
        response.raise_for_status()
        result = response.json()
        totals["accepted"] += int(result.get("accepted", 0))
        totals["duplicates"] += int(result.get("duplicates", 0))
        totals["rejected"] += len(result.get("rejected", []))
        progress.advance(task, len(chunk))
    return totals


async def load(stack: dict[str, str]) -> dict[str, Any]:
    registry = synthetic.households()
    stream = synthetic.events(registry)
    keys = _api_keys(stack, {d for d, _ in stream} | {"rural_revitalization"})
    _users(stack)
    by_department: dict[str, list[dict[str, Any]]] = {}
    for department, event in stream:
        by_department.setdefault(department, []).append(event)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with httpx.AsyncClient(base_url=stack["INTAKE_URL"], timeout=120) as client:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("households", total=len(registry))
            households = await _post_batches(client, "/v1/households:batch", keys["rural_revitalization"],
                                             registry, progress, task)
            task = progress.add_task("department events", total=len(stream))
            events: Counter[str] = Counter()
            for department, lines in by_department.items():
                events += await _post_batches(client, "/v1/events:batch", keys[department], lines, progress, task)
    return {"households": dict(households), "events": dict(events), "events_by_department":
            {d: len(v) for d, v in by_department.items()}, "keys": keys}


async def _token(client: httpx.AsyncClient, username: str) -> str:
    response = await client.post("/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _summary(stack: dict[str, str], expected_events: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack["WORKFLOW_URL"], timeout=60) as client:
        token = await _token(client, "demo_county")
        headers = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 300
        report: dict[str, Any] = {}
        with console.status("waiting for scoring and cases to settle…"):
            previous = None
            while time.monotonic() < deadline:
                response = await client.get("/v1/reports/summary", params={"region": synthetic.COUNTY_CODE,
                                                                            "period": "quarter"}, headers=headers)
                if response.status_code == 404:
                    console.print("[yellow]the reports endpoint is not available yet: showing what the load knows")
                    return {}
                response.raise_for_status()
                report = response.json()
                fingerprint = json.dumps(report.get("cases_by_step"), sort_keys=True)
                if report.get("events_assessed", 0) >= expected_events and fingerprint == previous:
                    break
                previous = fingerprint
                await asyncio.sleep(3)
        return report


def _print(loaded: dict[str, Any], report: dict[str, Any], stack: dict[str, str]) -> None:
    table = Table(title=f"SafetyNet demo — {synthetic.COUNTY_NAME} ({synthetic.COUNTY_CODE})")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("households registered", str(loaded["households"].get("accepted", 0)))
    table.add_row("events accepted", str(loaded["events"].get("accepted", 0)))
    table.add_row("events rejected", str(loaded["events"].get("rejected", 0)))
    for name, value in sorted(report.get("households_flagged_by_category", {}).items()):
        table.add_row(f"households flagged: {name}", str(value))
    for name, value in sorted(report.get("cases_by_step", {}).items()):
        table.add_row(f"cases in step: {name}", str(value))
    for key, label in (("tasks_open", "tasks open"), ("tasks_overdue", "tasks overdue"),
                       ("notifications_sent", "notifications sent")):
        table.add_row(label, str(report.get(key, "n/a")))
    console.print(table)
    console.print(f"UI: {stack['WORKFLOW_URL']}/  — demo logins (password [bold]{DEMO_PASSWORD}[/bold]):")
    for username, role, region, department in DEMO_USERS:
        console.print(f"  {username:14} {role:18} {region or '(all)'} {department or ''}")


def main() -> None:
    stack = read_stack_env()
    if not stack:
        raise SystemExit("no .local/stack.env: run `make up` first")
    loaded = asyncio.run(load(stack))
    report = asyncio.run(_summary(stack, int(loaded["events"].get("accepted", 0))))
    _print(loaded, report, stack)


if __name__ == "__main__":
    main()
