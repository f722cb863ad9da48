"""Backtest: re-score stored history under another policy without publishing anything, and report the
households whose level or category would change — what a county sees before adopting a new line.

Each household is re-scored as of its latest stored assessment, from the facts that assessment saw."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from safetynet_core.db import Database, raw_transaction
from safetynet_core.policy import Policy
from safetynet_risk.engine import assess
from safetynet_risk.state import REGISTRY_RECORD, build_state
from safetynet_risk.store import fact_from_row, registry_from_row

LATEST_ASSESSMENTS = """
select distinct on (household_id) household_id, level, category, score, as_of, fact_seq, event_ids,
       policy_version
from assessments where as_of >= $1
order by household_id, assessed_at desc, fact_seq desc
"""


@dataclass(frozen=True)
class Change:
    household_id: str
    region_code: str
    old_level: str
    new_level: str
    old_category: str | None
    new_category: str | None
    old_score: float
    new_score: float


@dataclass
class BacktestReport:
    policy_version: str
    households: int = 0
    changes: list[Change] = field(default_factory=list)

    @property
    def level_changes(self) -> int:
        return sum(1 for c in self.changes if c.old_level != c.new_level)

    @property
    def category_changes(self) -> int:
        return sum(1 for c in self.changes if c.old_category != c.new_category)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy_version": self.policy_version,
            "households": self.households,
            "level_changes": self.level_changes,
            "category_changes": self.category_changes,
            "changes": [c.__dict__ for c in self.changes],
        }


def rescore(policy: Policy, household: Any, facts: list[Any], latest: Any) -> Change | None:
    """The household's latest assessment re-done under `policy`; a Change when level or category differ."""
    registry = registry_from_row(household)
    seen = [
        fact_from_row(row)
        for row in facts
        if row["seq"] <= latest["fact_seq"] and row["type"] != REGISTRY_RECORD
    ]
    state = build_state(registry, seen, policy.risk, latest["as_of"])
    scored = assess(
        state, policy, trigger_ids=list(latest["event_ids"]), previously_monitored=household["monitored"]
    )
    if scored.level == latest["level"] and scored.category == latest["category"]:
        return None
    return Change(
        registry.household_id,
        registry.region_code,
        latest["level"],
        scored.level,
        latest["category"],
        scored.category,
        latest["score"],
        scored.score,
    )


async def run_backtest(
    db: Database, policy: Policy, since: date | None = None, chunk: int = 2000
) -> BacktestReport:
    """Re-score every household assessed since `since` (all when None); read-only."""
    report = BacktestReport(policy_version=policy.version)
    start = datetime.combine(since or date(1970, 1, 1), datetime.min.time(), tzinfo=UTC)
    async with raw_transaction(db) as conn:
        await conn.execute("set transaction read only")
        latest_rows = await conn.fetch(LATEST_ASSESSMENTS, start)
        for offset in range(0, len(latest_rows), chunk):
            part = latest_rows[offset : offset + chunk]
            ids = [row["household_id"] for row in part]
            households = {
                row["household_id"]: row
                for row in await conn.fetch(
                    "select * from households where household_id = any($1::text[])", ids
                )
            }
            facts: dict[str, list[Any]] = defaultdict(list)
            for row in await conn.fetch("select * from facts where household_id = any($1::text[])", ids):
                facts[row["household_id"]].append(row)
            for latest in part:
                household = households.get(latest["household_id"])
                if household is None:
                    continue
                report.households += 1
                change = rescore(policy, household, facts[latest["household_id"]], latest)
                if change is not None:
                    report.changes.append(change)
    return report
