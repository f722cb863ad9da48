"""The oversight queries. The dashboard's: per child region (the first `child_length` digits of a code) open
cases by step, identification breaches, open and overdue tasks; opened and closed cases per week. Counted
like the summary report (`reports/store.py`): a case's tasks by the case's region, other tasks by their own.
The township scorecard's: per child region over `[start, until)` (until: the quarter's end or now)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_workflow.tables import report_submissions

CASES_BY_STEP = text("""
select substr(region_code, 1, :child_length) as child, step, count(*) as n
from cases where region_code like :prefix || '%' and status <> 'closed'
group by 1, 2
""")

BREACHES = text("""
select substr(region_code, 1, :child_length) as child, count(*) as n
from cases where region_code like :prefix || '%' and identification_breached
group by 1
""")

TASKS = text("""
select substr(coalesce(c.region_code, t.region_code), 1, :child_length) as child, count(*) as open,
       count(*) filter (where t.overdue or t.due_at < :now) as overdue
from tasks t left join cases c using (case_id)
where t.status in ('open', 'claimed') and coalesce(c.region_code, t.region_code) like :prefix || '%'
group by 1
""")

WEEKS = text("""
select 'opened' as what, floor(extract(epoch from (opened_at - :anchor)) / :week_seconds)::bigint as week,
       count(*) as n
from cases where region_code like :prefix || '%' and opened_at >= :since group by 2
union all
select 'closed', floor(extract(epoch from (closed_at - :anchor)) / :week_seconds)::bigint, count(*)
from cases where region_code like :prefix || '%' and closed_at >= :since group by 2
""")


# 考核: identifications within the limit, tasks that fell overdue per active case, reviews done on time,
# failed inspections, rectification items still open past their deadline.
SCORECARD = {
    "identification": text("""
select substr(c.region_code, 1, :child_length) as child, count(*) as identified,
       count(*) filter (where (t.details->>'days')::float <= :limit_days) as identified_within_limit
from timeline t join cases c using (case_id)
where t.name = 'case.identified' and t.at >= :start and t.at < :until and c.region_code like :prefix || '%'
group by 1
"""),
    "cases": text("""
select substr(region_code, 1, :child_length) as child, count(*) as active_cases
from cases
where region_code like :prefix || '%' and opened_at < :until and (closed_at is null or closed_at >= :start)
group by 1
"""),
    "overdue": text("""
select substr(coalesce(c.region_code, t.region_code), 1, :child_length) as child, count(*) as overdue_tasks
from tasks t left join cases c using (case_id)
where t.overdue and t.due_at >= :start and t.due_at < :until
  and coalesce(c.region_code, t.region_code) like :prefix || '%'
group by 1
"""),
    "reviews": text("""
select substr(c.region_code, 1, :child_length) as child, count(*) as reviews_due,
       count(*) filter (where t.status = 'done' and t.completed_at <= t.due_at) as reviews_on_time
from tasks t join cases c using (case_id)
where t.kind = 'review' and t.status <> 'cancelled' and t.due_at >= :start and t.due_at < :until
  and c.region_code like :prefix || '%'
group by 1
"""),
    "inspections": text("""
select substr(c.region_code, 1, :child_length) as child, count(*) as inspections,
       count(*) filter (where t.form->>'result' = 'fail') as failed_inspections
from tasks t join cases c using (case_id)
where t.kind = 'inspection' and t.status = 'done' and t.completed_at >= :start and t.completed_at < :until
  and c.region_code like :prefix || '%'
group by 1
"""),
    "rectification": text("""
select substr(l.region_code, 1, :child_length) as child, count(*) as rectification_overdue
from tasks t join ledger_items l on l.item_id = t.case_id
where t.kind = :rectification_kind and t.status <> 'cancelled' and t.due_at < :until
  and (t.status in ('open', 'claimed') or t.completed_at >= :until) and l.region_code like :prefix || '%'
group by 1
"""),
}


submission_id = report_submissions.c.submission_id
SUBMISSIONS_LIMIT = 500


def _rows(result: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in result]


class OversightStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def by_child(self, prefix: str, child_length: int, now: datetime) -> dict[str, list[dict[str, Any]]]:
        """Open cases by child and step, identification breaches and open/overdue tasks by child."""
        params = {"prefix": prefix, "child_length": child_length, "now": now}
        async with self.db.unit_of_work() as uow:
            return {
                "cases": _rows(await uow.execute(CASES_BY_STEP, params)),
                "breaches": _rows(await uow.execute(BREACHES, params)),
                "tasks": _rows(await uow.execute(TASKS, params)),
            }

    async def weekly(
        self, prefix: str, anchor: datetime, week_seconds: float, since: datetime
    ) -> dict[str, dict[int, int]]:
        """Cases opened and closed per week (weeks numbered from `anchor`), since a moment."""
        params = {"prefix": prefix, "anchor": anchor, "week_seconds": week_seconds, "since": since}
        async with self.db.unit_of_work() as uow:
            rows = _rows(await uow.execute(WEEKS, params))
        counts: dict[str, dict[int, int]] = {"opened": {}, "closed": {}}
        for row in rows:
            counts[row["what"]][int(row["week"])] = int(row["n"])
        return counts

    async def scorecard(self, params: dict[str, Any]) -> dict[str, dict[str, int]]:
        """Each scorecard count by child code; `params`: prefix, child_length, start, until, limit_days and
        rectification_kind."""
        counts: dict[str, dict[str, int]] = {}
        async with self.db.unit_of_work() as uow:
            for query in SCORECARD.values():
                for row in _rows(await uow.execute(query, params)):
                    child = counts.setdefault(row.pop("child"), {})
                    child.update({k: int(v) for k, v in row.items()})
        return counts

    # ---------------------------------------------------------------- upward report submissions
    async def add_submission(self, row: dict[str, Any]) -> bool:
        """Store a submission; False when the region already has a live one (not returned) for the period."""
        statement = insert(report_submissions).values(row).on_conflict_do_nothing().returning(submission_id)
        async with self.db.unit_of_work() as uow:
            added = (await uow.execute(statement)).first()
            await uow.commit()
        return added is not None

    async def submission(self, submission_id_: str) -> dict[str, Any] | None:
        async with self.db.unit_of_work() as uow:
            found = (await uow.execute(select(report_submissions).where(submission_id == submission_id_))).first()
        return dict(found._mapping) if found else None

    async def decide_submission(self, submission_id_: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Record the review of a submission still awaiting one (None when it is not awaiting one)."""
        statement = (
            update(report_submissions)
            .where(submission_id == submission_id_, report_submissions.c.status == "submitted")
            .values(**changes)
            .returning(report_submissions)
        )
        async with self.db.unit_of_work() as uow:
            found = (await uow.execute(statement)).first()
            await uow.commit()
        return dict(found._mapping) if found else None

    async def submissions(
        self, prefix: str, status: str | None, period: str | None, period_start: date | None = None
    ) -> list[dict[str, Any]]:
        """Submissions under a region prefix, newest first (without their frozen summaries)."""
        s = report_submissions.c
        query = select(*(c for c in report_submissions.c if c.name != "summary")).where(
            s.region_code.startswith(prefix, autoescape=True)
        )
        for column, value in (("status", status), ("period", period), ("period_start", period_start)):
            if value:
                query = query.where(s[column] == value)
        async with self.db.unit_of_work() as uow:
            return _rows(await uow.execute(query.order_by(s.submitted_at.desc()).limit(SUBMISSIONS_LIMIT)))
