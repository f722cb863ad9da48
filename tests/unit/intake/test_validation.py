"""Validation rules of intake: envelopes, typed payloads, time bounds, registry records, NDJSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from safetynet_core.contracts import EventType, HouseholdEvent
from safetynet_intake.clients import ApiClient, granted_event_types
from safetynet_intake.messages import registry_record_message
from safetynet_intake.samples import household_record, medical_event
from safetynet_intake.validation import (
    InvalidInput,
    _checked_event,
    _compiled_valid_event,
    _valid_event,
    body_hash,
    ndjson_lines,
    validate_event,
    validate_household,
)

NOW = datetime.now(UTC)
SKEW = timedelta(minutes=5)


def locs(exc: pytest.ExceptionInfo[InvalidInput]) -> list[list[Any]]:
    return [e["loc"] for e in exc.value.errors]


def test_a_valid_event_keeps_its_normalised_payload() -> None:
    event = validate_event(medical_event(occurred_at="2026-05-01T08:00:00+08:00"), [], NOW, SKEW)
    assert event.payload == {"total_cost_cny": 30000, "out_of_pocket_cny": 12000, "inpatient": True}
    assert event.type.value == "medical_expense"


def test_body_hash_ignores_key_order() -> None:
    event = medical_event()
    assert body_hash(event) == body_hash(dict(reversed(list(event.items()))))
    assert body_hash(event) != body_hash({**event, "reference": "other"})


@pytest.mark.parametrize(
    ("moment", "ok"),
    [
        (NOW + timedelta(minutes=4), True),
        (NOW + timedelta(minutes=6), False),
        (datetime(2000, 1, 1, tzinfo=UTC), True),
        (datetime(1999, 12, 31, 23, tzinfo=UTC), False),
    ],
)
def test_occurred_at_must_lie_between_2000_and_now(moment: datetime, ok: bool) -> None:
    document = medical_event(occurred_at=moment.isoformat())
    if ok:
        validate_event(document, [], NOW, SKEW)
    else:
        with pytest.raises(InvalidInput) as exc:
            validate_event(document, ["body"], NOW, SKEW)
        assert locs(exc) == [["body", "occurred_at"]]


def test_payload_errors_name_the_payload_field_and_all_problems_at_once() -> None:
    document = medical_event(
        type="disaster_loss",
        occurred_at="2030-01-01T00:00:00Z",
        payload={"disaster_type": "meteor", "loss_cny": 1},
    )
    with pytest.raises(InvalidInput) as exc:
        validate_event(document, ["body"], NOW, SKEW)
    assert sorted(locs(exc)) == [
        ["body", "occurred_at"],
        ["body", "payload", "disaster_type"],
        ["body", "payload", "housing_damage"],
    ]


def test_death_requires_a_member() -> None:
    with pytest.raises(InvalidInput) as exc:
        validate_event(medical_event(type="death", member_id=None, payload={}), [], NOW, SKEW)
    assert locs(exc) == [["member_id"]]
    validate_event(medical_event(type="death", payload={}), [], NOW, SKEW)


EXAMPLE_PAYLOADS: dict[str, dict[str, Any]] = {
    "medical_expense": {"total_cost_cny": 30000, "out_of_pocket_cny": "12000", "inpatient": True},
    "disaster_loss": {"disaster_type": "flood", "loss_cny": 8000.5, "housing_damage": "destroyed"},
    "death": {},
    "accident": {"out_of_pocket_cny": 1, "lost_labour": True},
    "unemployment": {"previous_monthly_wage_cny": 3000},
    "disability": {"level": 2},
    "education_expense": {"out_of_pocket_cny": 9000, "stage": "university"},
    "school_dropout": {"grade": 8},
    "housing_safety": {"rating": "D"},
    "drinking_water": {"issue": "cut_off", "days_affected": 40},
    "self_application": {"reasons": ["illness"], "statement": "我家困难"},
    "grid_report": {"risk_types": ["housing", "other"], "notes": ""},
    "income_change": {"previous_annual_income_cny": 1, "current_annual_income_cny": 0, "reason": "other"},
}


@pytest.mark.parametrize("event_type", sorted(EXAMPLE_PAYLOADS))
def test_the_one_call_path_gives_what_the_step_by_step_path_gives(event_type: str) -> None:
    """Valid events take one validator call; the result must equal the rule-by-rule check's."""
    document = medical_event(type=event_type, payload=EXAMPLE_PAYLOADS[event_type], reference=None)
    one_call = _valid_event(document, NOW, SKEW)
    assert one_call is not None
    assert one_call == _checked_event(document, [], NOW, SKEW)
    assert isinstance(one_call.type, EventType)


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "death", "member_id": None, "payload": {}},
        {"occurred_at": (NOW + timedelta(hours=1)).isoformat()},
        {"payload": {"total_cost_cny": -1, "out_of_pocket_cny": 0, "inpatient": True}},
        {"type": "unknown"},
        {"extra": 1},
    ],
)
def test_anything_invalid_leaves_the_one_call_path_for_the_step_by_step_errors(changes: dict[str, Any]) -> None:
    document = medical_event(**changes)
    assert _valid_event(document, NOW, SKEW) is None
    with pytest.raises(InvalidInput):
        validate_event(document, [], NOW, SKEW)


def test_a_death_without_payload_is_still_valid() -> None:
    document = {k: v for k, v in medical_event(type="death").items() if k != "payload"}
    assert validate_event(document, [], NOW, SKEW).payload == {}


def test_every_event_type_of_the_contract_validates() -> None:
    for event_type, payload in EXAMPLE_PAYLOADS.items():
        validate_event(medical_event(type=event_type, payload=payload), [], NOW, SKEW)


def test_household_records_are_checked_for_consistency() -> None:
    assert validate_household(household_record("H1"), [], "H1").household_id == "H1"
    without_id = {k: v for k, v in household_record().items() if k != "household_id"}
    assert validate_household(without_id, [], "H9").household_id == "H9"
    cases = [
        (household_record(region_code="61032710120"), ["region_code"]),
        (household_record(head_member_id="M3"), []),
        (household_record(annual_net_income_cny=-5), ["annual_net_income_cny"]),
        (household_record(members=[]), ["members"]),
        (
            household_record(members=[{**household_record()["members"][0], "id_number": "123"}]),
            ["members", 0, "id_number"],
        ),
    ]
    for document, loc in cases:
        with pytest.raises(InvalidInput) as exc:
            validate_household(document, [])
        assert locs(exc) == [loc], document


def test_ndjson_lines_keep_physical_line_numbers_and_enforce_the_limit() -> None:
    assert ndjson_lines(b'{"a":1}\n\n{"b":2}\n', 10) == [(1, b'{"a":1}'), (3, b'{"b":2}')]
    with pytest.raises(InvalidInput) as exc:
        ndjson_lines(b"{}\n{}\n{}\n", 2)
    assert exc.value.status == 413
    with pytest.raises(InvalidInput):
        ndjson_lines(b"\n  \n", 2)


def test_clients_get_their_departments_natural_types_unless_told_otherwise() -> None:
    assert granted_event_types("medical_insurance", None) == ["medical_expense", "insurance_status", "measure_update"]
    assert granted_event_types("civil_affairs", ["death", " death", "self_application"]) == [
        "death",
        "self_application",
    ]
    with pytest.raises(ValueError, match="unknown event types"):
        granted_event_types("civil_affairs", ["bogus"])
    with pytest.raises(ValueError, match="unknown department"):
        granted_event_types("ministry_of_magic", None)


def test_registry_messages_never_carry_full_id_numbers() -> None:
    client = ApiClient("c1", "rural_revitalization", "rr", frozenset(), True)
    record = validate_household(household_record("H1"), [])
    value = registry_record_message(client, record, "e1", NOW)
    assert b"610327198001011234" not in value
    message = HouseholdEvent.FromString(value)
    assert message.registry_record.members[0].id_number_masked == "**************1234"
    assert message.registry_record.members[1].in_school is True


async def test_a_wrong_key_is_remembered_briefly_so_argon2_runs_once() -> None:
    from safetynet_core.auth import AuthError, hash_secret
    from safetynet_intake.clients import ClientAuthenticator

    class OneClientPool:
        def __init__(self) -> None:
            self.lookups = 0

        async def fetchrow(self, *_: Any) -> dict[str, Any]:
            self.lookups += 1
            return {
                "client_id": "c1",
                "department": "water",
                "name": "w",
                "event_types": ["drinking_water"],
                "registry_write": False,
                "region_prefix": None,
                "key_hash": hash_secret("snk_c1_right"),
            }

    pool = OneClientPool()
    authenticator = ClientAuthenticator(pool, ttl=30)
    for _ in range(3):
        with pytest.raises(AuthError):
            await authenticator.authenticate("snk_c1_wrong")
    assert pool.lookups == 1
    assert (await authenticator.authenticate("snk_c1_right")).department == "water"
    assert (await authenticator.authenticate("snk_c1_right")).client_id == "c1"
    assert pool.lookups == 2


WRONG_VALUES: list[Any] = [None, "", 5, 1.5, True, [], {}, "x" * 201, "a b", "-lead", "ok.id:1", "1e3", "nan", -1, 1e10,
                          "trailing\n", "2026-11-01\n", "١٢٣", 1.8e22]
OCCURRED_AT_FORMS: list[Any] = [
    "2026-01-01T08:00:00+08:00", "2026-01-01T08:00:00Z", "2026-01-01t08:00:00z", "2026-01-01 08:00:00+08:00",
    "2026-01-01T08:00:00.123456789+08:00", "2026-01-01T08:00:00", "2026-01-01", "2026-01-01T24:00:00Z",
    "2026-02-30T08:00:00Z", "2026-01-01T08:00:60Z", "2026-01-01T08:00+08:00", "20260101T080000Z",
    1767225600, 1767225600.5, "1767225600", None, "",
]  # fmt: skip


MORE_PAYLOADS: dict[str, dict[str, Any]] = {
    "employment_status": {"employed": True, "since": "2026-11-01"},
    "insurance_status": {"scheme": "basic_medical", "insured": False, "year": 2027},
    "measure_update": {"case_id": "C1", "measure_type": "employment", "status": "done"},
}


def documents() -> list[dict[str, Any]]:
    """Each example event, and each of its envelope and payload fields dropped or replaced by odd values."""
    found = []
    for event_type, payload in {**EXAMPLE_PAYLOADS, **MORE_PAYLOADS}.items():
        base = medical_event(type=event_type, payload=payload, occurred_at="2026-01-01T08:00:00+08:00")
        found += [base, {**base, "extra": 1}, {k: v for k, v in base.items() if k != "payload"}]
        for name in ("event_id", "household_id", "member_id", "reference", "type"):
            found.append({k: v for k, v in base.items() if k != name})
            found += [{**base, name: wrong} for wrong in WRONG_VALUES]
        found += [{**base, "occurred_at": form} for form in OCCURRED_AT_FORMS]
        for name in payload:
            found.append({**base, "payload": {k: v for k, v in payload.items() if k != name}})
            found += [{**base, "payload": {**payload, name: wrong}} for wrong in WRONG_VALUES]
        found.append({**base, "payload": {**payload, "unexpected": 1}})
    return found


def test_the_compiled_path_accepts_only_what_pydantic_accepts_and_gives_the_same_event() -> None:
    """The msgspec decoders derived from the typed models are a shortcut for valid events: whatever they
    accept, the pydantic path accepts with the same result; the rest falls through to pydantic."""
    accepted = 0
    for document in documents():
        compiled = _compiled_valid_event(document, NOW, SKEW)
        if compiled is None:
            continue
        accepted += 1
        assert compiled == _valid_event(document, NOW, SKEW), document
        assert compiled.occurred_at.utcoffset() == validate_event(document, [], NOW, SKEW).occurred_at.utcoffset()
    assert accepted > len(EXAMPLE_PAYLOADS) + 2  # every example but the one with validators (measure_update)


def test_a_payload_model_with_validators_of_its_own_is_left_to_pydantic() -> None:
    refused = medical_event(type="measure_update", payload={"case_id": "C1", "measure_type": "x", "status": "refused"})
    assert _compiled_valid_event(refused, NOW, SKEW) is None
    with pytest.raises(InvalidInput) as exc:
        validate_event(refused, [], NOW, SKEW)
    assert locs(exc) == [["payload", "note"]]
