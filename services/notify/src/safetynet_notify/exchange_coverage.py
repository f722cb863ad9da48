"""Coverage checks in the exchange: what departments report about members on the public household-events
topic (insurance and employment status, unemployment, deaths), kept in `exchange_coverage_facts`, and the
gaps of an included case (`safetynet_core.coverage`, policy `exchange.coverage`) as `coverage_gap` records
on the purposes whose department closes them (`coverage_gaps`). A gap's record is unique by what it is and
since when, so a department hears of each gap once while it lasts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from safetynet_core.coverage import CoverageFact, coverage_gaps
from safetynet_core.policy.exchange import ExchangePolicy
from safetynet_notify.exchange_records import CaseFacts, Household, gap_record

_REMEMBER = text("""
insert into exchange_coverage_facts (department, event_id, household_id, member_id, kind, covered, effective, year,
                                     occurred_at)
values (:department, :event_id, :household_id, :member_id, :kind, :covered, :effective, :year, :occurred_at)
on conflict (department, event_id) do nothing
""")
_REPORTED = text("""
select department, event_id, household_id, member_id, kind, covered, effective, year, occurred_at
from exchange_coverage_facts where household_id = :household_id
""")

Selected = list[tuple[str, list[tuple[str, dict[str, Any]]]]]


async def remember(session: AsyncSession, facts: Sequence[CoverageFact]) -> None:
    """Store the reports (a redelivered one is already there)."""
    if facts:
        await session.execute(_REMEMBER, [asdict(fact) for fact in facts])


async def gap_records(
    session: AsyncSession, policy: ExchangePolicy, facts: CaseFacts, household: Household | None, today: date
) -> Selected:
    """(purpose, [(subject, record)]) for the gaps of an included case that each purpose's department closes."""
    closers = {name: purpose for name, purpose in policy.purposes.items() if purpose.coverage_gaps}
    if not closers:
        return []
    rows = await session.execute(_REPORTED, {"household_id": facts.household_id})
    reported = [CoverageFact(**row._mapping) for row in rows]
    members = household.members if household is not None else None
    gaps = coverage_gaps(policy.coverage, members, reported, today)
    return [
        (name, [gap_record(name, purpose, facts, household, gap) for gap in gaps if gap.gap in purpose.coverage_gaps])
        for name, purpose in closers.items()
    ]
