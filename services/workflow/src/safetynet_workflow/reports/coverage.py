"""The coverage checks on the case (policy `exchange.coverage`, rules in `safetynet_core.coverage`): the
reports consumer keeps what departments report about members (insurance and employment status,
unemployment, deaths) and each household's registry members; a case shows its household's gaps, worked
out when asked (so a year's insurance lapses on 1 January without a new report)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from sqlalchemy import Boolean, Column, Date, DateTime, Integer, String, Table, select
from sqlalchemy.dialects.postgresql import JSONB, insert

from safetynet_core.contracts import COVERAGE_TYPES, LABOUR_CAPACITY_NAMES, HouseholdEvent, from_timestamp, now_utc
from safetynet_core.coverage import CoverageFact, coverage_gaps, fact_of
from safetynet_core.db import Database, UnitOfWork
from safetynet_core.policy.coverage import CoveragePolicy
from safetynet_workflow.tables import metadata

report_coverage_facts = Table(
    "report_coverage_facts",
    metadata,
    Column("department", String(40), primary_key=True),
    Column("event_id", String(100), primary_key=True),
    Column("household_id", String(64), nullable=False, index=True),
    Column("member_id", String(100), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("covered", Boolean, nullable=False),
    Column("effective", Date, nullable=False),
    Column("year", Integer),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
)

# The registry's members of each household (id, name, labour capacity: no ID numbers), latest record wins.
report_coverage_members = Table(
    "report_coverage_members",
    metadata,
    Column("household_id", String(64), primary_key=True),
    Column("members", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

INSERT_FACT = insert(report_coverage_facts).on_conflict_do_nothing()
_members = insert(report_coverage_members)
UPSERT_MEMBERS = _members.on_conflict_do_update(
    index_elements=["household_id"],
    set_={"members": _members.excluded.members, "recorded_at": _members.excluded.recorded_at},
    where=report_coverage_members.c.recorded_at <= _members.excluded.recorded_at,
)


class CoverageRows:
    """One batch's coverage facts and registry members, written with the batch's other reporting rows."""

    def __init__(self) -> None:
        self.facts: list[dict[str, Any]] = []
        self.members: dict[str, dict[str, Any]] = {}

    def add(self, message: HouseholdEvent) -> bool:
        """Keep what the coverage checks need of a household-events record; True when that is all of it (an
        insurance or employment status: no department fact for the reports). PoisonRecord when invalid."""
        if message.WhichOneof("body") == "registry_record":
            self._add_members(message)
            return False
        fact = fact_of(message)
        if fact is not None:
            self.facts.append(asdict(fact))
        return message.department_event.type in COVERAGE_TYPES

    def _add_members(self, message: HouseholdEvent) -> None:
        recorded_at = from_timestamp(message.occurred_at) if message.HasField("occurred_at") else now_utc()
        current = self.members.get(message.household_id)
        if current is not None and current["recorded_at"] > recorded_at:
            return
        members = [
            {"member_id": m.member_id, "name": m.name, "labour_capacity": LABOUR_CAPACITY_NAMES.get(m.labour_capacity)}
            for m in message.registry_record.members
        ]
        self.members[message.household_id] = {
            "household_id": message.household_id, "members": members, "recorded_at": recorded_at
        }  # fmt: skip

    async def write(self, uow: UnitOfWork) -> None:
        if self.facts:
            await uow.execute(INSERT_FACT, self.facts)
        if self.members:
            await uow.execute(UPSERT_MEMBERS, list(self.members.values()))


class CoverageStore:
    """A household's coverage gaps under the policy's checks."""

    def __init__(self, db: Database, checks: CoveragePolicy) -> None:
        self.db = db
        self.checks = checks

    async def gaps(self, household_id: str, today: date) -> list[dict[str, Any]]:
        """`{"member_id", "name", "gap", "reason", "since"}` per gap (member ones first, employment last)."""
        if not self.checks.gaps:
            return []
        reported = select(report_coverage_facts).where(report_coverage_facts.c.household_id == household_id)
        registry = select(report_coverage_members.c.members).where(
            report_coverage_members.c.household_id == household_id
        )
        async with self.db.unit_of_work() as uow:
            facts = [CoverageFact(**row._mapping) for row in await uow.execute(reported)]
            members: list[dict[str, Any]] | None = (await uow.execute(registry)).scalar_one_or_none()
        names = {m["member_id"]: m.get("name") for m in members or ()}
        return [
            {**gap.as_json(), "name": names.get(gap.member_id or "")}
            for gap in coverage_gaps(self.checks, members, facts, today)
        ]
