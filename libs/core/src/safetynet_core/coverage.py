"""The coverage checks' rules (policy `exchange.coverage`), shared by notify (gaps to the departments that
close them) and workflow (gaps on the case): from a household's registry members and what departments
reported about them on household-events (`insurance_status`, `employment_status`, and `unemployment` and
`death` of a named member), the gaps:

- a member not insured for the current year under a required scheme: the latest report for this year says
  not insured (since the first such report after the last insured one, or 1 January), or the only reports
  are of earlier years (lapsed on 1 January);
- a household with labour (a living member with full or partial labour capacity) where nobody is employed
  by the latest reports (since the last member's job ended, or the first report).

With `unreported_is_gap`, a member (or household) without any report is a gap as well. Deceased members
are left out. Each gap's `since` stays the same while the gap lasts, so a department gets one record for it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from safetynet.v1 import household_events_pb2
from safetynet_core.contracts import (
    COVERAGE_TYPES,
    PAYLOAD_MODELS,
    EventType,
    HouseholdEvent,
    PoisonRecord,
    department_payload,
    from_timestamp,
    now_utc,
)
from safetynet_core.policy.coverage import EMPLOYMENT, CoveragePolicy

COUNTY_ZONE = ZoneInfo("Asia/Shanghai")
DECEASED = "deceased"
WORKING = frozenset({"full", "partial"})


class GapReason(StrEnum):
    REPORTED = "reported"  # a department reported it (not insured, nobody employed)
    LAPSED = "lapsed"  # insured in an earlier year only
    UNREPORTED = "unreported"  # nobody reported on it (policy `unreported_is_gap`)


@dataclass(frozen=True)
class CoverageFact:
    """One report about a member: `kind` is an insurance scheme, `employment` or `deceased`; `effective` is
    the day it holds from (employment's `since`, else the day it occurred, county time)."""

    department: str
    event_id: str
    household_id: str
    member_id: str
    kind: str
    covered: bool
    effective: date
    year: int | None
    occurred_at: datetime


@dataclass(frozen=True)
class CoverageGap:
    gap: str
    member_id: str | None
    reason: GapReason
    since: date | None

    def as_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "gap": self.gap,
            "reason": self.reason.value,
            "since": self.since.isoformat() if self.since else None,
        }

    @property
    def key(self) -> str:
        """Names this gap while it lasts (a gap that closes and opens again has another `since`)."""
        return f"gap:{self.gap}:{self.member_id or ''}:{self.since.isoformat() if self.since else ''}"


def county_day(moment: datetime | None = None) -> date:
    return (moment or now_utc()).astimezone(COUNTY_ZONE).date()


def _coverage_payload(event: household_events_pb2.DepartmentEvent) -> dict[str, Any]:
    try:
        return PAYLOAD_MODELS[EventType(event.type)].model_validate(department_payload(event)).model_dump()
    except (ValidationError, ValueError) as exc:
        raise PoisonRecord("invalid_payload", f"{event.type} payload: {exc}") from exc


def fact_of(message: HouseholdEvent) -> CoverageFact | None:
    """The coverage fact a household-events record carries (None for anything else, and for an
    unemployment or death naming no member); PoisonRecord when its payload is not valid."""
    if message.WhichOneof("body") != "department_event":
        return None
    event = message.department_event
    if event.type not in COVERAGE_TYPES and event.type not in (EventType.UNEMPLOYMENT, EventType.DEATH):
        return None
    if not event.member_id:
        if event.type in COVERAGE_TYPES:
            raise PoisonRecord("invalid_payload", f"{event.type} needs member_id")
        return None
    payload = _coverage_payload(event) if event.type in COVERAGE_TYPES else {}
    occurred_at = from_timestamp(message.occurred_at) if message.HasField("occurred_at") else now_utc()
    kind, covered, year = EMPLOYMENT, False, None  # unemployment
    if event.type == EventType.INSURANCE_STATUS:
        kind, covered, year = payload["scheme"], payload["insured"], payload["year"]
    elif event.type == EventType.EMPLOYMENT_STATUS:
        covered = payload["employed"]
    elif event.type == EventType.DEATH:
        kind = DECEASED
    return CoverageFact(
        department=message.department,
        event_id=message.event_id,
        household_id=message.household_id,
        member_id=event.member_id,
        kind=kind,
        covered=covered,
        effective=payload.get("since") or county_day(occurred_at),
        year=year,
        occurred_at=occurred_at,
    )


def _in_order(facts: Iterable[CoverageFact]) -> list[CoverageFact]:
    return sorted(facts, key=lambda f: (f.effective, f.occurred_at, f.event_id))


def _uncovered_since(facts: Sequence[CoverageFact]) -> date | None:
    """For reports in order whose latest is not covered: the first one after the last covered one (None
    when none was ever covered)."""
    covered = [i for i, fact in enumerate(facts) if fact.covered]
    return facts[covered[-1] + 1].effective if covered else None


def _insurance_gap(
    scheme: str, member_id: str, facts: Sequence[CoverageFact], today: date, unreported_is_gap: bool
) -> CoverageGap | None:
    new_year = date(today.year, 1, 1)
    this_year = _in_order(f for f in facts if f.year == today.year)
    if this_year:
        if this_year[-1].covered:
            return None
        return CoverageGap(scheme, member_id, GapReason.REPORTED, _uncovered_since(this_year) or new_year)
    earlier = [f for f in facts if f.year is not None and f.year < today.year]
    if earlier:
        latest = max(earlier, key=lambda f: (f.year or 0, f.effective, f.occurred_at, f.event_id))
        return CoverageGap(scheme, member_id, GapReason.LAPSED if latest.covered else GapReason.REPORTED, new_year)
    return CoverageGap(scheme, member_id, GapReason.UNREPORTED, new_year) if unreported_is_gap else None


def _employment_gap(by_member: Mapping[str, Sequence[CoverageFact]], unreported_is_gap: bool) -> CoverageGap | None:
    reports = [_in_order(facts) for facts in by_member.values() if facts]
    if any(facts[-1].covered for facts in reports):
        return None
    if not reports:
        return CoverageGap(EMPLOYMENT, None, GapReason.UNREPORTED, None) if unreported_is_gap else None
    ended = [since for facts in reports if (since := _uncovered_since(facts))]
    since = max(ended) if ended else min(facts[0].effective for facts in reports)
    return CoverageGap(EMPLOYMENT, None, GapReason.REPORTED, since)


def coverage_gaps(
    checks: CoveragePolicy,
    members: Sequence[Mapping[str, Any]] | None,
    facts: Iterable[CoverageFact],
    today: date,
) -> list[CoverageGap]:
    """The household's gaps, member by member (registry order) and scheme by scheme, then employment.
    `members` are the registry's (`member_id`, `labour_capacity`); when unknown (None), the members reported
    on are checked for insurance and employment is not checked."""
    reported: dict[str, dict[str, list[CoverageFact]]] = defaultdict(lambda: defaultdict(list))
    for fact in facts:
        reported[fact.member_id][fact.kind].append(fact)
    deceased = {member_id for member_id, kinds in reported.items() if kinds.get(DECEASED)}
    if members is None:
        living_ids = [m for m in reported if m not in deceased]
        labour: list[str] | None = None
    else:
        living = [m for m in members if str(m.get("member_id")) not in deceased]
        living_ids = [str(m.get("member_id")) for m in living]
        labour = [str(m.get("member_id")) for m in living if m.get("labour_capacity") in WORKING]
    gaps = [
        gap
        for member_id in living_ids
        for scheme in checks.insurance_schemes
        if (gap := _insurance_gap(scheme, member_id, reported[member_id][scheme], today, checks.unreported_is_gap))
    ]
    if checks.employment and labour:
        employment = {m: reported[m][EMPLOYMENT] for m in living_ids if reported[m][EMPLOYMENT]}
        if gap := _employment_gap(employment, checks.unreported_is_gap):
            gaps.append(gap)
    return gaps
