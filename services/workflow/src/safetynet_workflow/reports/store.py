"""The summary report's queries. Flows (events, flags, identifications, eliminations, inspections) count
inside the period; stocks (cases by step, open and overdue tasks, 应纳未纳) are the state right now.
Every query is limited to a region prefix (and, when asked, one grid); a case's tasks count by the case's
region (escalation moves a task's own region up the ladder), the tasks of sweeps, corrections and the
ledger by their own region (never above the county's, however far they escalated)."""

from __future__ import annotations

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

MISSED = text(f"""
with latest as (
  select distinct on (household_id) *
  from report_assessments
  where region_code {IN_REGION} and {in_grid('household_id')}
  order by household_id, assessed_at desc
)
select l.household_id, l.region_code, l.category, l.level, l.score, l.risk_types, l.warnings, l.assessed_at
from latest l
where (l.opens_case or jsonb_array_length(l.warnings) > 0)
  and l.assessed_at < :cutoff
  and not exists (
    select 1 from cases c
    where c.household_id = l.household_id and (c.status <> 'closed' or c.closed_at >= l.assessed_at)
  )
order by l.assessed_at, l.household_id
limit :limit
""")


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


def _tally(rows: list[dict[str, Any]], key: str, value: str = "n") -> dict[str, int]:
    out: dict[str, int] = {}
    for row in rows:
        name = str(row[key] if row[key] not in (None, "") else "none")
        out[name] = out.get(name, 0) + int(row[value])
    return dict(sorted(out.items()))


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
        grace: timedelta,
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
            missed_params = {"prefix": prefix, "grid": grid, "cutoff": now - grace, "limit": missed_limit}
            missed = _rows(await conn.execute(MISSED, missed_params))
        report["missed_inclusions"] = [
            {**row, "score": float(row["score"]), "category": row["category"] or None} for row in missed
        ]
        report["missed_inclusions_count"] = len(missed)
        return report

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
