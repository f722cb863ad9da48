"""The summary report's queries. Flows (events, flags, identifications, eliminations, inspections) count
inside the period; stocks (cases by step, open and overdue tasks, 应纳未纳) are the state right now.
Every query is limited to a region prefix (and, when asked, one grid); a case's tasks count by the case's
region (escalation moves a task's own region up the ladder), the tasks of sweeps, corrections and the
ledger by their own region (never above the county's, however far they escalated)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, text

from safetynet_core.db import Database, UnitOfWork
from safetynet_workflow.reports.tables import report_households

IN_REGION = "like :prefix || '%'"


def in_grid(household: str) -> str:
    """Limit to one grid's households (from the registry records) when :grid is given."""
    grid_households = "select household_id from report_households where grid_id = :grid"
    return f"(cast(:grid as text) is null or {household} in ({grid_households}))"

EVENTS = text(f"""
select e.department, count(*) as events, count(a.event_id) as assessed
from report_events e
join report_households h using (household_id)
left join report_assessed_events a using (event_id)
where h.region_code {IN_REGION} and e.received_at >= :since and {in_grid('h.household_id')}
group by e.department
""")

FLAGGED = text(f"""
select distinct on (household_id) household_id, category, risk_types
from report_assessments
where region_code {IN_REGION} and opens_case and assessed_at >= :since and {in_grid('household_id')}
order by household_id, assessed_at desc
""")

CASES = text(f"""
select step, status, close_reason, count(*) as n,
       count(*) filter (where opened_at >= :since) as opened,
       count(*) filter (where status = 'closed' and closed_at >= :since) as closed,
       count(*) filter (where identification_breached) as breached
from cases where region_code {IN_REGION} and {in_grid('household_id')}
group by step, status, close_reason
""")

IDENTIFICATION = text(f"""
select count(*) as identified,
       percentile_cont(0.5) within group (order by (t.details->>'days')::float) as median_days,
       percentile_cont(0.9) within group (order by (t.details->>'days')::float) as p90_days,
       avg(((t.details->>'days')::float > :limit_days)::int) as share_over_limit
from timeline t join cases c using (case_id)
where t.name = 'case.identified' and t.at >= :since and c.region_code {IN_REGION}
  and {in_grid('c.household_id')}
""")

OPEN_TASKS = text(f"""
select t.escalation_level, count(*) as open,
       count(*) filter (where t.overdue or t.due_at < :now) as overdue
from tasks t left join cases c using (case_id)
where t.status in ('open', 'claimed') and coalesce(c.region_code, t.region_code) {IN_REGION}
  and {in_grid('t.household_id')}
group by t.escalation_level
""")

INSPECTIONS = text(f"""
select count(*) as total,
       count(*) filter (where t.status in ('open', 'claimed')) as open,
       count(*) filter (where t.status = 'done' and t.form->>'result' = 'pass') as passed,
       count(*) filter (where t.status = 'done' and t.form->>'result' = 'fail') as failed
from tasks t join cases c using (case_id)
where t.kind = 'inspection' and t.created_at >= :since and c.region_code {IN_REGION}
  and {in_grid('c.household_id')}
""")

# 应纳未纳 (CONTRACT.md, Oversight): households whose latest assessment opens a case and that have no open
# case, because none was opened within the identification limit, or because their last case was dismissed or
# found not eligible before that assessment (after a short grace for the new case to open).
MISSED = f"""
with latest as (
  select distinct on (household_id) household_id, region_code, category, level, score, risk_types, warnings,
         reasons, opens_case, assessed_at
  from report_assessments
  where region_code {IN_REGION} and {in_grid('household_id')}
  order by household_id, assessed_at desc
), last_case as (
  select distinct on (c.household_id) c.household_id, c.status, c.close_reason, c.closed_at
  from cases c join latest l on l.household_id = c.household_id and l.opens_case
  order by c.household_id, c.opened_at desc
), missed as (
  select l.*, case when lc.close_reason in ('dismissed', 'not_eligible') then 'earlier_case_closed'
                   else 'not_opened_in_time' end as why
  from latest l left join last_case lc using (household_id)
  where l.opens_case
    and (lc.household_id is null or (lc.status = 'closed' and lc.closed_at < l.assessed_at))
    and (l.assessed_at < :identification_cutoff
         or (lc.close_reason in ('dismissed', 'not_eligible') and l.assessed_at < :grace_cutoff))
)
"""
MISSED_LIST = text(f"""{MISSED}
select m.household_id, m.region_code, m.category, m.level, m.score, m.risk_types, m.warnings, m.reasons,
       m.assessed_at, m.why, h.head_name
from missed m left join report_households h using (household_id)
order by m.assessed_at, m.household_id
limit :limit
""")
MISSED_BY_CHILD = text(f"""{MISSED}
select substr(region_code, 1, :child_length) as child, count(*) as n from missed group by 1
""")


@dataclass(frozen=True)
class MissedRule:
    """When a flagged household without a case is 应纳未纳: `identification` after its flag (the policy's
    identification limit on its clock), or `grace` after it when its last case was dismissed or not eligible."""

    identification: timedelta
    grace: timedelta = timedelta(minutes=10)

    def params(self, now: datetime) -> dict[str, datetime]:
        return {"identification_cutoff": now - self.identification, "grace_cutoff": now - self.grace}


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def _tally(rows: list[dict[str, Any]], key: str, value: str = "n") -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        name = str(row[key] if row[key] not in (None, "") else "none")
        out[name] = out.get(name, 0) + int(row[value])
    return dict(sorted(out.items()))


def missed_row(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "score": float(row["score"]), "category": row["category"] or None}


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


class ReportStore:
    """Aggregates over the workflow projection and the reporting tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def households_of(self, household_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The registry facts the reports consumer keeps of these households: grid (网格), size, members who
        can work, the head's name."""
        h = report_households.c
        query = select(h.household_id, h.grid_id, h.members, h.labour_members, h.head_name).where(
            h.household_id.in_(household_ids)
        )
        async with self.db.unit_of_work() as uow:
            return {r.household_id: dict(r._mapping) for r in await uow.execute(query)}

    async def summary(
        self,
        prefix: str,
        since: datetime,
        now: datetime,
        *,
        limit_days: float,
        missed: MissedRule,
        missed_limit: int,
        grid: str | None = None,
    ) -> dict[str, Any]:
        params = {"prefix": prefix, "since": since, "now": now, "grid": grid}
        async with self.db.unit_of_work() as conn:
            report = {
                **await self._events(conn, params),
                **await self._flagged(conn, params),
                **await self._cases(conn, params),
                **await self._tasks(conn, params),
            }
            ident = (await conn.execute(IDENTIFICATION, {**params, "limit_days": limit_days})).one()._mapping
            report["identification"] = {
                "identified": int(ident["identified"]),
                "median_days": _round(ident["median_days"]),
                "p90_days": _round(ident["p90_days"]),
                "share_over_limit": _round(ident["share_over_limit"]),
                "limit_days": limit_days,
            }
            inspections = (await conn.execute(INSPECTIONS, params)).one()._mapping
            report["inspections"] = {k: int(inspections[k]) for k in ("total", "open", "passed", "failed")}
            missed_params = {"prefix": prefix, "grid": grid, **missed.params(now)}
            rows = _rows(await conn.execute(MISSED_LIST, {**missed_params, "limit": missed_limit}))
            counts = _rows(await conn.execute(MISSED_BY_CHILD, {**missed_params, "child_length": len(prefix)}))
        report["missed_inclusions"] = [missed_row(row) for row in rows]
        report["missed_inclusions_count"] = sum(int(c["n"]) for c in counts)
        return report

    async def missed_inclusions(
        self, prefix: str, now: datetime, missed: MissedRule, limit: int, grid: str | None = None
    ) -> list[dict[str, Any]]:
        """The 应纳未纳 households under a region prefix, oldest flag first, with the assessment's reasons."""
        params = {"prefix": prefix, "grid": grid, "limit": limit, **missed.params(now)}
        async with self.db.unit_of_work() as conn:
            return [missed_row(row) for row in _rows(await conn.execute(MISSED_LIST, params))]

    async def missed_by_child(
        self, prefix: str, child_length: int, now: datetime, missed: MissedRule
    ) -> dict[str, int]:
        """How many 应纳未纳 households each child region (its code's first `child_length` digits) has."""
        params = {"prefix": prefix, "grid": None, "child_length": child_length, **missed.params(now)}
        async with self.db.unit_of_work() as conn:
            return {r["child"]: int(r["n"]) for r in _rows(await conn.execute(MISSED_BY_CHILD, params))}

    @staticmethod
    async def _events(conn: UnitOfWork, params: dict[str, Any]) -> dict[str, Any]:
        rows = _rows(await conn.execute(EVENTS, params))
        return {
            "events_by_department": _tally(rows, "department", "events"),
            "events_received": sum(int(r["events"]) for r in rows),
            "events_assessed": sum(int(r["assessed"]) for r in rows),
        }

    @staticmethod
    async def _flagged(conn: UnitOfWork, params: dict[str, Any]) -> dict[str, Any]:
        rows = _rows(await conn.execute(FLAGGED, params))
        by_risk: dict[str, int] = {}
        for row in rows:
            for risk_type in row["risk_types"]:
                by_risk[risk_type] = by_risk.get(risk_type, 0) + 1
        return {
            "households_flagged": len(rows),
            "households_flagged_by_category": _tally([{**r, "n": 1} for r in rows], "category"),
            "households_flagged_by_risk_type": dict(sorted(by_risk.items())),
        }

    @staticmethod
    async def _cases(conn: UnitOfWork, params: dict[str, Any]) -> dict[str, Any]:
        rows = _rows(await conn.execute(CASES, params))
        closed = [r for r in rows if r["status"] == "closed"]
        eliminated = [r for r in closed if r["close_reason"] == "risk_eliminated"]
        return {
            "cases_total": sum(int(r["n"]) for r in rows),
            "cases_by_step": _tally(rows, "step"),
            "cases_by_status": _tally(rows, "status"),
            "cases_opened": sum(int(r["opened"]) for r in rows),
            "cases_closed_by_reason": {k: v for k, v in _tally(closed, "close_reason", "closed").items() if v},
            "eliminations": sum(int(r["closed"]) for r in eliminated),
            "identification_breached": sum(int(r["breached"]) for r in rows),
        }

    @staticmethod
    async def _tasks(conn: UnitOfWork, params: dict[str, Any]) -> dict[str, Any]:
        rows = _rows(await conn.execute(OPEN_TASKS, params))
        return {
            "tasks_open": sum(int(r["open"]) for r in rows),
            "tasks_overdue": sum(int(r["overdue"]) for r in rows),
            "overdue_tasks_by_escalation_level": {
                str(r["escalation_level"]): int(r["overdue"])
                for r in sorted(rows, key=lambda r: r["escalation_level"])
                if r["overdue"]
            },
        }
