"""`make demo`: load a synthetic 陇县 into the running stack, wait until it settles, work part of the caseload
as its case workers (casework.py) and print what happened, ending with the dashboard's address.

Re-runnable: the simulated year is anchored once (in `.local/demo.json`), so a second run posts the very
same events (intake answers "duplicate") and updates the same users. `run(...)` takes a smaller county
and another county code, which is how the e2e test keeps to its own numbers. With a drill policy
(`SAFETYNET_POLICY_FILE=policy/drill.yaml make demo`: a policy day of seconds) the case workers keep working
for minutes, until households are eliminated and inspected; with the real clock they do what the day allows
(screens, visits, comparisons, plans on the green channel) and the public notices run for days."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from safetynet_cli import accounts, synthetic
from safetynet_cli.casework import Casework, case_workers
from safetynet_core.policy import Policy, load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE, REPO_ROOT
from safetynet_core.testing import read_stack_env

console = Console()
DEMO_PASSWORD = "demo-pass-2026"  # noqa: S105 (the demo logins, printed by make demo)
BATCH_LINES = 2000
ANCHOR_FILE = Path(os.environ.get("SAFETYNET_LOCAL_DIR") or REPO_ROOT / ".local") / "demo.json"
DRILL_DAY_SECONDS = 60  # a policy day this short is a drill: the case workers keep at it for minutes
DRILL_CASEWORK_SECONDS, REAL_CASEWORK_SECONDS = 540, 90
DRILL_WAVES = 6
LOGINS_AT_ONCE = 4
DRILL_ELIMINATIONS = 3
DRILL_SETTLE_SECONDS = 15
IDLE_PASSES = 5  # on the real clock: done when this many passes in a row found nothing to do
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
REPORT_USER = "demo_admin"  # sees any county, so a relocated test county reads its own report
# The report keys the summary prints (the same keys as GET /v1/reports/summary).
SUMMARY_KEYS = (
    "events_received",
    "events_assessed",
    "households_flagged",
    "households_flagged_by_category",
    "cases_by_step",
    "cases_by_status",
    "tasks_open",
    "tasks_overdue",
    "notifications_sent",
)


@dataclass
class DemoResult:
    """What the demo loaded and the settled report it printed."""

    county_code: str
    households: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    report: dict[str, Any] = field(default_factory=dict)
    settled: bool = False
    casework: Casework | None = None
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        return {"events_accepted": self.events["accepted"], **{k: self.report.get(k) for k in SUMMARY_KEYS}}


def _state(path: Path = ANCHOR_FILE) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    return state


def _save_state(state: dict[str, Any], path: Path = ANCHOR_FILE) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(state, indent=2))
    path.chmod(0o600)  # it holds the demo clients' API keys


def anchor(path: Path = ANCHOR_FILE) -> datetime:
    """The end of the simulated year, fixed at the first run so later runs post identical events."""
    state = _state(path)
    if "anchor" not in state:
        state["anchor"] = datetime.now(UTC).replace(microsecond=0).isoformat()
        _save_state(state, path)
    return datetime.fromisoformat(state["anchor"])


def relocate(
    registry: list[dict[str, Any]], stream: list[tuple[str, dict[str, Any]]], county_code: str
) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """The same county under another 6-digit code (household, member and event ids follow)."""
    if county_code == synthetic.COUNTY_CODE:
        return registry, stream
    old, new = synthetic.COUNTY_CODE, county_code

    def move(value: str) -> str:
        return value.replace(old, new, 1)

    homes = []
    for record in registry:
        members = [{**m, "member_id": move(m["member_id"])} for m in record["members"]]
        homes.append(
            {
                **record,
                "household_id": move(record["household_id"]),
                "region_code": move(record["region_code"]),
                "head_member_id": move(record["head_member_id"]),
                "members": members,
            }
        )
    events = [
        (
            department,
            {
                **event,
                "event_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{new}/{event['event_id']}")),
                "household_id": move(event["household_id"]),
                "member_id": move(event["member_id"]),
            },
        )
        for department, event in stream
    ]
    return homes, events


async def _api_keys(stack: dict[str, str], departments: set[str]) -> dict[str, str]:
    """One client per department, kept in `.local/demo.json` and reused by later runs (intake dedupes
    per client, so a re-run posting through the same clients gets "duplicate" answers)."""
    state = _state()
    keys: dict[str, str] = state.get("api_keys", {})
    async with httpx.AsyncClient(base_url=stack["INTAKE_URL"], timeout=30) as client:
        for department in sorted(set(keys) & departments):  # a key revoked or from a wiped stack is replaced
            probe = await client.get(
                f"/v1/events/{uuid.uuid4()}", headers={"Authorization": f"Bearer {keys[department]}"}
            )
            if probe.status_code == 401:
                del keys[department]
    keys.update(await accounts.api_clients(stack["DATABASE_URL"], sorted(departments - set(keys)), "demo"))
    _save_state({**_state(), "api_keys": keys})
    return keys


def demo_accounts(county_code: str) -> list[accounts.Account]:
    """The printed demo logins (with an address: notify tells them) and the county's case workers."""
    printed = [
        accounts.Account(username, role, region, department, f"{username}@demo.safetynet.local")
        for username, role, region, department in DEMO_USERS
    ]
    return [*printed, *case_workers(county_code, demo_villages(county_code))]


async def _post_batches(
    client: httpx.AsyncClient, path: str, key: str, lines: list[dict[str, Any]], progress: Progress, task: Any
) -> Counter[str]:
    totals: Counter[str] = Counter()
    for start in range(0, len(lines), BATCH_LINES):
        chunk = lines[start : start + BATCH_LINES]
        body = b"\n".join(orjson.dumps(line) for line in chunk)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"}
        response = await client.post(path, content=body, headers=headers)
        response.raise_for_status()
        result = response.json()
        for name in ("accepted", "duplicates", "unchanged"):
            totals[name] += int(result.get(name, 0))
        totals["rejected"] += len(result.get("rejected", []))
        progress.advance(task, len(chunk))
    return totals


async def load(
    stack: dict[str, str],
    result: DemoResult,
    households: int,
    seed: int,
    *,
    waves: int = 1,
    pause: float = 0,
    ready: asyncio.Event | None = None,
) -> None:
    """The accounts (then `ready` is set), registry records, then every department's events through intake's
    batch APIs: all at once, or in `waves` (oldest events first) `pause` seconds apart."""
    registry = synthetic.households(households, seed)
    stream = synthetic.events(registry, seed, now=anchor())
    registry, stream = relocate(registry, stream, result.county_code)
    keys = await _api_keys(stack, {d for d, _ in stream} | {"rural_revitalization"})
    await accounts.logins(stack["DATABASE_URL"], demo_accounts(result.county_code), DEMO_PASSWORD)
    if ready is not None:
        ready.set()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with httpx.AsyncClient(base_url=stack["INTAKE_URL"], timeout=120) as client:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("households", total=len(registry))
            result.households = await _post_batches(
                client, "/v1/households:batch", keys["rural_revitalization"], registry, progress, task
            )
            task = progress.add_task("department events", total=len(stream))
            size = -(-len(stream) // waves)
            for start in range(0, len(stream), size):
                if start:
                    await asyncio.sleep(pause)
                by_department: dict[str, list[dict[str, Any]]] = {}
                for department, event in stream[start : start + size]:
                    by_department.setdefault(department, []).append(event)
                for department, lines in by_department.items():
                    result.events += await _post_batches(
                        client, "/v1/events:batch", keys[department], lines, progress, task
                    )


async def token(client: httpx.AsyncClient, username: str = REPORT_USER) -> str:
    response = await client.post("/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    response.raise_for_status()
    return str(response.json()["access_token"])


async def report(client: httpx.AsyncClient, bearer: str, region: str, period: str = "quarter") -> dict[str, Any]:
    """GET /v1/reports/summary for the region."""
    response = await client.get(
        "/v1/reports/summary",
        params={"region": region, "period": period},
        headers={"Authorization": f"Bearer {bearer}"},
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _settled(report_: dict[str, Any], loaded_events: int) -> bool:
    """Every event that arrived is assessed and every flagged household has a case."""
    return (
        report_.get("events_received", 0) >= loaded_events
        and report_.get("events_assessed") == report_.get("events_received")
        and report_.get("cases_total", 0) >= report_.get("households_flagged", 0)
    )


async def wait_until_settled(stack: dict[str, str], result: DemoResult, timeout: float, interval: float) -> None:
    """Poll the report until processing settles (and stays unchanged over three polls) or the deadline."""
    loaded = result.events["accepted"] + result.events["duplicates"]
    async with httpx.AsyncClient(base_url=stack["WORKFLOW_URL"], timeout=60) as client:
        bearer = await token(client)
        deadline = time.monotonic() + timeout
        fingerprints: list[str] = []
        with console.status("waiting for scoring, cases and notifications to settle…") as status:
            while True:
                result.report = await report(client, bearer, result.county_code)
                fingerprints = [*fingerprints[-2:], json.dumps(result.summary(), sort_keys=True)]
                status.update(
                    f"waiting to settle: {result.report.get('events_assessed')}/{loaded} events assessed, "
                    f"{result.report.get('cases_total')} cases, {result.report.get('tasks_open')} open tasks, "
                    f"{result.report.get('notifications_sent')} notifications sent"
                )
                if _settled(result.report, loaded) and len(fingerprints) == 3 and len(set(fingerprints)) == 1:
                    result.settled = True
                    return
                if time.monotonic() > deadline:
                    return
                await asyncio.sleep(interval)


def _table(result: DemoResult) -> Table:
    rep = result.report
    table = Table(title=f"SafetyNet demo — {synthetic.COUNTY_NAME} ({result.county_code})")
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, Any]] = [
        ("households registered", result.households["accepted"] + result.households["unchanged"]),
        ("events accepted (this run)", result.events["accepted"]),
        ("events already there (duplicates)", result.events["duplicates"]),
        ("events rejected", result.events["rejected"]),
        ("events in the report (quarter)", rep.get("events_received")),
        ("events assessed", rep.get("events_assessed")),
        ("households flagged", rep.get("households_flagged")),
    ]
    rows += [(f"  flagged: {k}", v) for k, v in rep.get("households_flagged_by_category", {}).items()]
    rows += [(f"cases in step: {k}", v) for k, v in rep.get("cases_by_step", {}).items()]
    rows += [(f"cases closed: {k}", v) for k, v in rep.get("cases_closed_by_reason", {}).items()]
    rows += [
        ("tasks open", rep.get("tasks_open")),
        ("tasks overdue", rep.get("tasks_overdue")),
        *((f"  overdue, escalated {k}x", v) for k, v in rep.get("overdue_tasks_by_escalation_level", {}).items()),
        ("identification limit breached", rep.get("identification_breached")),
        ("notifications sent", rep.get("notifications_sent")),
        ("应纳未纳 (flagged, no case)", rep.get("missed_inclusions_count")),
    ]
    if result.casework is not None:
        work = result.casework
        rows += [(f"done by the demo's case workers: {k}", v) for k, v in sorted(work.done.items())]
        rows += [(f"  {k.replace('_', ' ')}", v) for k, v in sorted(work.acts.items())]
        rows += [(f"  refused: {k}", v) for k, v in sorted(work.refused.items())]
    rows += [(f"seconds: {k}", round(v)) for k, v in result.seconds.items()]
    for label, value in rows:
        table.add_row(label, "n/a" if value is None else str(value))
    return table


def print_summary(result: DemoResult, stack: dict[str, str]) -> None:
    if not result.settled:
        console.print("[yellow]the numbers are still moving (processing, or a drill clock's timers)")
    console.print(_table(result))
    url = stack["WORKFLOW_URL"]
    console.print(f"report: {url}/v1/reports/summary?region={result.county_code}&period=quarter")
    console.print(f"UI: {url}/  — demo logins (password [bold]{DEMO_PASSWORD}[/bold]):")
    for username, role, region, department in DEMO_USERS:
        console.print(f"  {username:14} {role:18} {region or '(all)':13} {department or ''}")
    console.print(f"  (the case workers: cadre_<village>, town_<township>, county_{result.county_code}, ...)")
    console.print(f"Dashboard: {url}/dashboard?region={result.county_code}  (log in as demo_county)")


def demo_villages(county_code: str) -> list[str]:
    """The county's village codes (under the county code the demo runs with)."""
    return sorted(v.code.replace(synthetic.COUNTY_CODE, county_code, 1) for v in synthetic.villages())


def stack_policy(stack: dict[str, str]) -> Policy:
    """The policy the stack runs (its SAFETYNET_POLICY_FILE)."""
    return load_policy(stack.get("SAFETYNET_POLICY_FILE") or DEFAULT_POLICY_FILE)


async def work_cases(
    stack: dict[str, str], result: DemoResult, seconds: float | None, loading: asyncio.Task[None] | None = None
) -> None:
    """The case workers work the worked part of the caseload: on a drill clock until every wave is loaded
    and households are eliminated and inspected (or time is up), on the real clock until nothing is left."""
    policy = stack_policy(stack)
    drill = policy.workflow.day_seconds <= DRILL_DAY_SECONDS
    budget = seconds if seconds is not None else DRILL_CASEWORK_SECONDS if drill else REAL_CASEWORK_SECONDS
    villages = demo_villages(result.county_code)
    async with httpx.AsyncClient(base_url=stack["WORKFLOW_URL"], timeout=60) as client:
        names = [REPORT_USER, *(w.username for w in case_workers(result.county_code, villages))]
        slots = asyncio.Semaphore(LOGINS_AT_ONCE)  # each login is an argon2 check on the server

        async def login(name: str) -> str:
            async with slots:
                return await token(client, name)

        tokens = dict(zip(names, await asyncio.gather(*(login(n) for n in names)), strict=True))
        work = result.casework = Casework(client, policy, result.county_code, tokens)

        async def enough(idle: int) -> bool:
            if drill:
                eliminated = work.done["elimination_county_decision"] >= DRILL_ELIMINATIONS
                return eliminated and work.done["inspection"] > 0 and (loading is None or loading.done())
            return idle >= IDLE_PASSES and sum(work.done.values()) > 0

        with console.status("the demo's case workers are working the caseload…"):
            await work.run(REPORT_USER, budget, 1.0 if drill else 2.0, enough)


async def run(
    stack: dict[str, str],
    *,
    households: int = 2400,
    seed: int = 610327,
    county_code: str = synthetic.COUNTY_CODE,
    timeout: float = 600,
    interval: float = 3,
    casework: bool = True,
    casework_seconds: float | None = None,
) -> DemoResult:
    """Load, work part of the caseload as soon as the cases open (while the rest is scored), wait until
    settled; return what the summary prints (with each phase's seconds)."""
    result = DemoResult(county_code=county_code)
    started = time.monotonic()
    day = stack_policy(stack).workflow.day_seconds
    settle = timeout
    if casework and day <= DRILL_DAY_SECONDS:
        # A drill: the year's events arrive in waves a policy week apart, worked as the cases open, so the
        # weekly trend has weeks and the case workers keep pace with the drill clock.
        ready = asyncio.Event()
        loading = asyncio.create_task(load(stack, result, households, seed, waves=DRILL_WAVES, pause=7 * day,
                                           ready=ready))  # fmt: skip
        waiting = asyncio.create_task(ready.wait())
        await asyncio.wait({waiting, loading}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.is_set():
            waiting.cancel()
            await loading  # it failed before the accounts were there: its error
        await work_cases(stack, result, casework_seconds, loading)
        await loading
        result.seconds["load and casework"] = time.monotonic() - started
        settle = DRILL_SETTLE_SECONDS  # its timers never stop
    else:
        await load(stack, result, households, seed)
        result.seconds["load"] = time.monotonic() - started
        if casework:
            await work_cases(stack, result, casework_seconds)
            result.seconds["casework"] = time.monotonic() - started - result.seconds["load"]
    begun = time.monotonic()
    await wait_until_settled(stack, result, settle, interval)
    result.seconds["settling"] = time.monotonic() - begun
    result.seconds["total"] = time.monotonic() - started
    return result


def main(
    households: int = typer.Option(2400, help="households in the synthetic county"),
    seed: int = typer.Option(610327, help="random seed of the county and its events"),
    timeout: float = typer.Option(600, help="seconds to wait for processing to settle"),
    casework: bool = typer.Option(True, help="work part of the caseload as its case workers"),
    casework_seconds: float = typer.Option(None, help="at most this long (default: 420 on a drill clock, else 90)"),
) -> None:
    """Load the synthetic county into the running stack, work part of its caseload, print the summary."""
    stack = read_stack_env()
    if not stack:
        raise SystemExit("no .local/stack.env: run `make up` first")
    result = asyncio.run(run(stack, households=households, seed=seed, timeout=timeout, casework=casework,
                             casework_seconds=casework_seconds))  # fmt: skip
    print_summary(result, stack)


if __name__ == "__main__":
    typer.run(main)
