"""The dashboard (CONTRACT.md, Oversight): a region's children with their monitored households, open cases by
step, open and overdue tasks, identification breaches and 应纳未纳, and the weekly opened/closed trend.

Monitored households are the households with an open case (one case per household). Weeks are policy weeks
(seven `workflow.day_seconds`), starting on Mondays in the county's time zone on the real clock, so a drill
county's trend moves as fast as its cases. `totals` counts the region as a whole, exactly as
`GET /v1/reports/summary` does (tasks of the region's own level included, which no child holds)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from safetynet_core.auth import Principal
from safetynet_core.policy import Policy
from safetynet_core.web import require_role
from safetynet_workflow.oversight.store import OversightStore
from safetynet_workflow.regions.service import RegionDirectory
from safetynet_workflow.reports.service import missed_rule, report_region
from safetynet_workflow.reports.store import ReportStore

DASHBOARD_ROLES = ("township_officer", "county_officer", "auditor")
OPEN_STEPS = ("screen", "verify", "assist", "evaluate")
TREND_WEEKS = 12
COUNTY_ZONE = ZoneInfo("Asia/Shanghai")
WEEK_ANCHOR = datetime(2024, 1, 1, tzinfo=COUNTY_ZONE)  # a Monday
# The codes one level below a prefix of each length (2 province, 4 city, 6 county, 9 township, 12 village).
CHILD_LENGTH = {0: 6, 2: 4, 4: 6, 6: 9, 9: 12, 12: 12}
NUMBERS = ("monitored_households", "open_tasks", "overdue_tasks", "identification_breaches", "missed_inclusions")


@dataclass(frozen=True)
class DashboardSources:
    oversight: OversightStore
    reports: ReportStore
    regions: RegionDirectory
    policy: Policy


def child_length(prefix: str) -> int:
    return CHILD_LENGTH.get(len(prefix), min(len(prefix) + 3, 12))


def _empty(code: str, name: str) -> dict[str, Any]:
    return {"code": code, "name": name, "monitored_households": 0, "cases_by_step": dict.fromkeys(OPEN_STEPS, 0),
            "open_tasks": 0, "overdue_tasks": 0, "identification_breaches": 0, "missed_inclusions": 0}  # fmt: skip


def child_codes(prefix: str, regions: RegionDirectory, counted: set[str]) -> list[str]:
    """The directory's children of the region and any other child the data names (never dropped)."""
    length = child_length(prefix)
    listed = [r.code for r in (regions.children_of(prefix) if prefix else regions.roots())]
    if length == len(prefix):
        listed = [prefix]
    extra = sorted(code for code in counted if len(code) == length and code not in listed)
    return [*listed, *extra]


def _tally(rows: dict[str, list[dict[str, Any]]], missed: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Every number by child code (child codes as the queries cut them)."""
    out: dict[str, dict[str, Any]] = {}

    def row(code: str) -> dict[str, Any]:
        return out.setdefault(code, _empty(code, code))

    for r in rows["cases"]:
        if r["step"] in OPEN_STEPS:
            row(r["child"])["cases_by_step"][r["step"]] += int(r["n"])
            row(r["child"])["monitored_households"] += int(r["n"])
    for r in rows["breaches"]:
        row(r["child"])["identification_breaches"] += int(r["n"])
    for r in rows["tasks"]:
        row(r["child"])["open_tasks"] += int(r["open"])
        row(r["child"])["overdue_tasks"] += int(r["overdue"])
    for code, n in missed.items():
        row(code)["missed_inclusions"] += n
    return out


def _total(code: str, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    total = _empty(code, name)
    for r in rows:
        for key in NUMBERS:
            total[key] += r[key]
        for step in OPEN_STEPS:
            total["cases_by_step"][step] += r["cases_by_step"][step]
    return total


def week_label(start: datetime, day_seconds: float) -> str:
    """A week by its first day (a drill's short weeks by their first moment)."""
    local = start.astimezone(COUNTY_ZONE)
    return local.date().isoformat() if day_seconds >= 86400 else local.isoformat(timespec="seconds")


async def trend(sources: DashboardSources, prefix: str, now: datetime) -> list[dict[str, Any]]:
    """Cases opened and closed in each of the last TREND_WEEKS policy weeks, oldest first."""
    day_seconds = sources.policy.workflow.day_seconds
    week_seconds = 7 * day_seconds
    current = math.floor((now - WEEK_ANCHOR).total_seconds() / week_seconds)
    weeks = range(current - TREND_WEEKS + 1, current + 1)
    since = WEEK_ANCHOR + timedelta(seconds=weeks[0] * week_seconds)
    counts = await sources.oversight.weekly(prefix, WEEK_ANCHOR, week_seconds, since)
    out = []
    for week in weeks:
        start = WEEK_ANCHOR + timedelta(seconds=week * week_seconds)
        out.append({
            "week": week_label(start, day_seconds),
            "opened": counts["opened"].get(week, 0),
            "closed": counts["closed"].get(week, 0),
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(seconds=week_seconds)).isoformat(),
        })  # fmt: skip
    return out


async def dashboard(
    principal: Principal, sources: DashboardSources, region: str | None, now: datetime
) -> dict[str, Any]:
    """The dashboard of `region` (default: the caller's own) for officers, auditors and admins (else 403)."""
    require_role(principal, DASHBOARD_ROLES, "see the dashboard")
    prefix = report_region(principal, region)
    length = child_length(prefix)
    rows = await sources.oversight.by_child(prefix, length, now)
    missed = await sources.reports.missed_by_child(prefix, length, now, missed_rule(sources.policy))
    tallied = _tally(rows, missed)
    regions = sources.regions
    children = [
        {**tallied.get(code, _empty(code, code)), "code": code, "name": regions.name(code)}
        for code in child_codes(prefix, regions, set(tallied))
    ]
    name = regions.name(prefix) if prefix else ""
    return {
        "region": {"code": prefix, "name": name},
        "children": children,
        "totals": _total(prefix, name, list(tallied.values())),
        "trend": await trend(sources, prefix, now),
    }
