"""The coverage checks' rules: insurance per member, scheme and year; employment per household with labour;
deceased members left out; `since` stays put while a gap lasts; the facts read off household-events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pytest

from safetynet.v1 import household_events_pb2 as hpb
from safetynet_core.contracts import PoisonRecord, to_timestamp
from safetynet_core.coverage import CoverageFact, CoverageGap, GapReason, coverage_gaps, fact_of
from safetynet_core.policy.coverage import CoveragePolicy
from safetynet_core.policy.exchange import ExchangePolicy, PurposePolicy

TODAY = date(2027, 3, 15)
CHECKS = CoveragePolicy(insurance_schemes=["basic_medical", "anti_poverty_insurance"], employment=True)
MEMBERS = [
    {"member_id": "M1", "labour_capacity": "full"},
    {"member_id": "M2", "labour_capacity": "partial"},
    {"member_id": "M3", "labour_capacity": "none"},
]
_counter = iter(range(10_000))


def fact(member: str, kind: str, covered: bool, on: date, year: int | None = None) -> CoverageFact:
    """A report in the order written (the counter breaks ties between reports of one day)."""
    n = next(_counter)
    reported_at = datetime.combine(on, datetime.min.time(), UTC) + timedelta(seconds=n)
    department = "medical_insurance" if year else "human_resources"
    return CoverageFact(department, f"E{n:05d}", "H1", member, kind, covered, on, year, reported_at)


def insured(member: str, covered: bool, on: date, year: int = 2027, scheme: str = "basic_medical") -> CoverageFact:
    return fact(member, scheme, covered, on, year)


def employed(member: str, covered: bool, on: date) -> CoverageFact:
    return fact(member, "employment", covered, on)


def gaps(
    *facts: CoverageFact, checks: CoveragePolicy = CHECKS, members: list[dict[str, str]] | None = MEMBERS
) -> set[tuple[Any, ...]]:
    return {(g.gap, g.member_id, g.reason.value, g.since) for g in coverage_gaps(checks, members, facts, TODAY)}


def test_nothing_reported_is_no_gap_unless_the_policy_says_so() -> None:
    assert gaps() == set()
    strict = CHECKS.model_copy(update={"unreported_is_gap": True})
    assert gaps(checks=strict) == {
        *((scheme, m, "unreported", date(2027, 1, 1)) for m in ("M1", "M2", "M3")
          for scheme in ("basic_medical", "anti_poverty_insurance")),
        ("employment", None, "unreported", None),
    }  # fmt: skip


def test_a_member_reported_not_insured_this_year_is_a_gap_until_insured() -> None:
    not_insured = insured("M2", False, date(2027, 2, 1))
    assert gaps(not_insured) == {("basic_medical", "M2", "reported", date(2027, 1, 1))}
    monthly_again = insured("M2", False, date(2027, 3, 1))
    assert gaps(not_insured, monthly_again) == {("basic_medical", "M2", "reported", date(2027, 1, 1))}
    assert gaps(not_insured, insured("M2", True, date(2027, 3, 10))) == set()


def test_insurance_that_stops_mid_year_is_a_gap_from_the_first_report_after_it() -> None:
    history = [insured("M1", True, date(2027, 1, 5)), insured("M1", False, date(2027, 2, 20))]
    assert gaps(*history) == {("basic_medical", "M1", "reported", date(2027, 2, 20))}
    assert gaps(*history, insured("M1", False, date(2027, 3, 1))) == {
        ("basic_medical", "M1", "reported", date(2027, 2, 20))
    }


def test_last_years_insurance_lapses_on_the_first_of_january() -> None:
    assert gaps(insured("M1", True, date(2026, 1, 3), year=2026)) == {
        ("basic_medical", "M1", "lapsed", date(2027, 1, 1))
    }
    assert gaps(insured("M1", False, date(2026, 6, 1), year=2026)) == {
        ("basic_medical", "M1", "reported", date(2027, 1, 1))
    }
    enrolled_for_next_year = insured("M1", True, date(2027, 3, 1), year=2028)
    assert gaps(enrolled_for_next_year) == set()  # this year: nothing reported


def test_each_required_scheme_is_checked_on_its_own() -> None:
    facts = (
        insured("M1", True, date(2027, 1, 2)),
        insured("M1", False, date(2027, 1, 2), scheme="anti_poverty_insurance"),
    )
    assert gaps(*facts) == {("anti_poverty_insurance", "M1", "reported", date(2027, 1, 1))}
    medical_only = CoveragePolicy(insurance_schemes=["basic_medical"])
    assert gaps(*facts, checks=medical_only) == set()


def test_a_household_with_labour_needs_somebody_employed() -> None:
    assert gaps(employed("M1", False, date(2027, 2, 1))) == {("employment", None, "reported", date(2027, 2, 1))}
    assert gaps(employed("M1", False, date(2027, 2, 1)), employed("M2", True, date(2027, 2, 10))) == set()
    lost_jobs = [employed("M1", True, date(2026, 5, 1)), employed("M1", False, date(2027, 1, 10)),
                 employed("M2", True, date(2026, 5, 1)), employed("M2", False, date(2027, 2, 10)),
                 employed("M3", False, date(2027, 3, 1))]  # fmt: skip
    assert gaps(*lost_jobs) == {("employment", None, "reported", date(2027, 2, 10))}  # when the last job ended
    no_labour = [{"member_id": "M3", "labour_capacity": "none"}]
    assert gaps(employed("M3", False, date(2027, 2, 1)), members=no_labour) == set()


def test_a_deceased_member_has_no_gaps_and_no_labour() -> None:
    facts = (insured("M1", False, date(2027, 2, 1)), employed("M1", False, date(2027, 2, 1)))
    death = fact("M1", "deceased", False, date(2027, 3, 1))
    only_m1_works = [MEMBERS[0], MEMBERS[2]]
    assert gaps(*facts, death, members=only_m1_works) == set()


def test_without_the_registry_members_reported_on_are_checked_and_employment_is_not() -> None:
    facts = (insured("M9", False, date(2027, 2, 1)), employed("M9", False, date(2027, 2, 1)))
    assert gaps(*facts, members=None) == {("basic_medical", "M9", "reported", date(2027, 1, 1))}
    assert gaps(*facts) == set()  # M9 is not in the registry: reports on strangers are not the household's


def test_a_gap_is_named_by_what_it_is_and_since_when() -> None:
    gap = CoverageGap("basic_medical", "M1", GapReason.REPORTED, date(2027, 1, 1))
    assert gap.key == "gap:basic_medical:M1:2027-01-01"
    assert gap.as_json() == {"member_id": "M1", "gap": "basic_medical", "reason": "reported", "since": "2027-01-01"}


def _event(event_type: str, payload: dict[str, Any], member_id: str = "M1") -> hpb.HouseholdEvent:
    message = hpb.HouseholdEvent(schema_version=1, event_id="E1", household_id="H1", department="medical_insurance")
    message.occurred_at.CopyFrom(to_timestamp(datetime(2027, 2, 28, 20, 0, tzinfo=UTC)))  # 1 March in the county
    message.department_event.type = event_type
    message.department_event.member_id = member_id
    message.department_event.payload_json = orjson.dumps(payload)
    return message


def test_facts_are_read_off_household_events() -> None:
    insurance = fact_of(_event("insurance_status", {"scheme": "basic_medical", "insured": True, "year": 2027}))
    assert insurance is not None
    assert (insurance.kind, insurance.covered, insurance.year, insurance.effective) == (
        "basic_medical", True, 2027, date(2027, 3, 1)
    )  # fmt: skip
    job = fact_of(_event("employment_status", {"employed": True, "since": "2026-11-01"}))
    assert job is not None and (job.kind, job.covered, job.effective) == ("employment", True, date(2026, 11, 1))
    lost = fact_of(_event("unemployment", {"previous_monthly_wage_cny": 3000}))
    assert lost is not None and (lost.kind, lost.covered) == ("employment", False)
    died = fact_of(_event("death", {}))
    assert died is not None and died.kind == "deceased"
    assert fact_of(_event("unemployment", {}, member_id="")) is None
    assert fact_of(_event("medical_expense", {"total_cost_cny": 1})) is None
    with pytest.raises(PoisonRecord):
        fact_of(_event("insurance_status", {"scheme": "car", "insured": True, "year": 2027}))


def test_purposes_close_only_the_gaps_that_are_checked() -> None:
    purpose = PurposePolicy(
        department="human_resources", description="jobs", fields=["case_id"], coverage_gaps=["employment"]
    )
    with pytest.raises(ValueError, match="coverage does not check"):
        ExchangePolicy(purposes={"jobs": purpose})
    assert (
        ExchangePolicy(purposes={"jobs": purpose}, coverage=CoveragePolicy(employment=True)).purposes["jobs"] == purpose
    )
    with pytest.raises(ValueError, match="are not gaps"):
        PurposePolicy(department="human_resources", description="x", fields=["case_id"], coverage_gaps=["dental"])
