"""Backtest: replay each household's stored history under a candidate policy, writing and publishing nothing,
and report what would change: above all the case openings that would not happen or would happen anew (and
at which events), and the assessments whose level or category would differ.

A household's facts are replayed in the batches the consumer scored them in (one per stored assessment, in
order), each through the consumer's own scoring (`batch.score_household`) with the registry record and the
facts stored by then, so each step is what the consumer would have written under the candidate policy. Two
worlds run side by side: the history (the stored assessments as made) and the candidate. In each, a flagged
assessment opens a case when none is open (risk knows of it from the next batch on, as it learns of an
opening from the case events); the real closures of the case history close it (and make older evidence
stale); a real reopening (a failed inspection) reopens a closed one.

Households are read in pages by id (keyset), so memory holds one page's history at a time."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from operator import attrgetter, itemgetter
from typing import Any

from safetynet_core.db import Database, raw_transaction
from safetynet_core.policy import Policy
from safetynet_risk import store
from safetynet_risk.batch import Household, score_household
from safetynet_risk.casestate import NO_CASE, CaseChange, CaseState
from safetynet_risk.state import REGISTRY_RECORD, PreparedFact, RegistryRecord, StoredFact
from safetynet_risk.store import fact_from_row

PAGE = 500  # households replayed per database read
Progress = Callable[[int, int], None]  # (households replayed, households in all)


@dataclass(frozen=True)
class OpeningChange:
    """One batch where the candidate's case opening differs from the history's."""

    opens: bool  # True: the candidate opens a case here and the history did not; False: the reverse
    assessment_id: str  # the stored assessment of that batch
    event_ids: list[str]  # the events that triggered it
    as_of: datetime
    old_level: str
    new_level: str


@dataclass
class Change:
    """A household the candidate policy treats differently: its latest assessment under both, how many of
    its assessments change level or category, and the batches where its case openings differ."""

    household_id: str
    region_code: str
    old_level: str
    new_level: str
    old_category: str | None
    new_category: str | None
    old_score: float
    new_score: float
    levels_changed: int = 0
    categories_changed: int = 0
    openings: list[OpeningChange] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **{name: value for name, value in self.__dict__.items() if name != "openings"},
            "openings": [{**o.__dict__, "as_of": o.as_of.isoformat()} for o in self.openings],
        }


@dataclass
class BacktestReport:
    policy_version: str
    households: int = 0
    assessments: int = 0
    changes: list[Change] = field(default_factory=list)

    @property
    def level_changes(self) -> int:
        return sum(1 for c in self.changes if c.levels_changed)

    @property
    def category_changes(self) -> int:
        return sum(1 for c in self.changes if c.categories_changed)

    @property
    def opening_changes(self) -> int:
        return sum(1 for c in self.changes if c.openings)

    @property
    def openings_lost(self) -> int:
        return sum(1 for c in self.changes for o in c.openings if not o.opens)

    @property
    def openings_new(self) -> int:
        return sum(1 for c in self.changes for o in c.openings if o.opens)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "households": self.households,
            "assessments": self.assessments,
            "level_changes": self.level_changes,
            "category_changes": self.category_changes,
            "opening_changes": self.opening_changes,
            "openings_lost": self.openings_lost,
            "openings_new": self.openings_new,
            "changes": [c.as_dict() for c in self.changes],
        }


@dataclass
class World:
    """One world's case for a household, as risk would know it before each batch."""

    case: CaseState = NO_CASE
    had_case: bool = False

    def learn(self, change: CaseChange) -> None:
        """A real closure closes this world's open case; a real reopening reopens its closed one."""
        if change.closes and self.case.open:
            self.case = replace(
                self.case,
                open=False,
                changed_at=change.occurred_at,
                closed_at=change.occurred_at,
                close_reason=change.close_reason or None,
                closed_case_id=self.case.case_id,
            )
        elif change.reopened and self.had_case and not self.case.open:
            self.case = replace(self.case, open=True, changed_at=change.occurred_at)

    def flagged(self, opens_case: bool, at: datetime, case_id: str) -> bool:
        """An assessment's flag after its batch; True when it opens this world's case (none was open)."""
        if not opens_case or self.case.open:
            return False
        self.case = replace(self.case, open=True, case_id=case_id, changed_at=at)
        self.had_case = True
        return True


def _latest(current: RegistryRecord | None, row: Any) -> RegistryRecord:
    """The registry baseline once this registry fact is stored (a record as old as the current one wins,
    as the consumer's upsert has it)."""
    fact = fact_from_row(row)
    record = RegistryRecord.from_payload(row["household_id"], fact.occurred_at, fact.payload)
    return record if current is None or current.recorded_at <= record.recorded_at else current


def replay_household(
    policy: Policy, facts: Sequence[Any], assessments: Sequence[Any], history: Sequence[CaseChange], since: datetime
) -> tuple[int, Change | None]:
    """Replay one household's stored batches (facts by seq, assessments in order, case history by moment)
    under `policy`; returns how many of its assessments (as of `since` or later) were compared, and its
    Change if any of them differs."""
    risk = policy.risk
    events: tuple[PreparedFact, ...] = ()
    registry: RegistryRecord | None = None
    old_world, new_world = World(), World()
    next_fact = next_change = compared = levels_changed = categories_changed = 0
    openings: list[OpeningChange] = []
    latest: tuple[Any, dict[str, Any]] | None = None
    for stored in assessments:
        batch: list[StoredFact] = []
        before: list[PreparedFact] = []
        while next_fact < len(facts) and facts[next_fact]["seq"] <= stored["fact_seq"]:
            fact_row = facts[next_fact]
            next_fact += 1
            if fact_row["type"] == REGISTRY_RECORD:
                registry = _latest(registry, fact_row)
            if fact_row["assessment_id"] == stored["assessment_id"]:
                batch.append(fact_from_row(fact_row))
            elif fact_row["type"] != REGISTRY_RECORD:
                before.append(PreparedFact(fact_from_row(fact_row), risk))
        events += tuple(before)
        now = stored["assessed_at"]
        while next_change < len(history) and history[next_change].occurred_at <= now:
            old_world.learn(history[next_change])
            new_world.learn(history[next_change])
            next_change += 1
        if registry is None or not batch:
            continue
        row, events = score_household(
            policy,
            Household(registry, events, [], 0),
            now,
            batch,
            list(stored["event_ids"]),
            stored["assessment_id"],
            new_world.case,
        )
        old_opens = old_world.flagged(stored["opens_case"], now, stored["assessment_id"])
        new_opens = new_world.flagged(row["opens_case"], now, stored["assessment_id"])
        if stored["as_of"] < since:
            continue
        compared += 1
        latest = stored, row
        levels_changed += row["level"] != stored["level"]
        categories_changed += row["category"] != stored["category"]
        if old_opens != new_opens:
            event_ids = list(stored["event_ids"])
            openings.append(
                OpeningChange(
                    new_opens, row["assessment_id"], event_ids, stored["as_of"], stored["level"], row["level"]
                )
            )
    if latest is None or not (levels_changed or categories_changed or openings):
        return compared, None
    stored, row = latest
    change = Change(
        household_id=row["household_id"],
        region_code=row["region_code"],
        old_level=stored["level"],
        new_level=row["level"],
        old_category=stored["category"],
        new_category=row["category"],
        old_score=stored["score"],
        new_score=row["score"],
        levels_changed=levels_changed,
        categories_changed=categories_changed,
        openings=openings,
    )
    return compared, change


def _by_household(rows: Sequence[Any], household_of: Callable[[Any], str]) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[household_of(row)].append(row)
    return grouped


async def run_backtest(
    db: Database, policy: Policy, since: date | None = None, page: int = PAGE, progress: Progress | None = None
) -> BacktestReport:
    """Replay every household assessed (as of) since `since` (all when None) under `policy`; read-only.
    Assessments before `since` are replayed for the state they leave but not compared."""
    report = BacktestReport(policy_version=policy.version)
    start = datetime.combine(since or date(1970, 1, 1), datetime.min.time(), tzinfo=UTC)
    async with raw_transaction(db) as conn:
        total = await store.assessed_household_count(conn, start)
    after = ""
    while True:
        async with raw_transaction(db) as conn:
            await conn.execute("set transaction read only")
            household_ids = await store.assessed_household_page(conn, start, after, page)
            if not household_ids:
                break
            facts, assessments, history = await store.household_histories(conn, household_ids)
        facts_of = _by_household(facts, itemgetter("household_id"))
        assessments_of = _by_household(assessments, itemgetter("household_id"))
        history_of = _by_household(history, attrgetter("household_id"))
        for household_id in household_ids:
            compared, change = replay_household(
                policy, facts_of[household_id], assessments_of[household_id], history_of[household_id], start
            )
            report.households += 1
            report.assessments += compared
            if change is not None:
                report.changes.append(change)
            if progress is not None:
                progress(report.households, total)
        after = household_ids[-1]
    return report
