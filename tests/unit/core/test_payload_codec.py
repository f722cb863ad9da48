"""The msgspec payload decoders derived from the pydantic payload models accept and reject what the models do,
and give the same dump."""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
import pydantic
import pytest

from safetynet_core.contracts import PAYLOAD_MODELS, EventType
from safetynet_core.payload_codec import PAYLOAD_STRUCTS, decode_payload, struct_of

VALID: dict[EventType, dict[str, Any]] = {
    EventType.MEDICAL_EXPENSE: {
        "total_cost_cny": 30000,
        "out_of_pocket_cny": 12000.5,
        "inpatient": True,
        "diagnosis_category": "cardio",
    },
    EventType.DISASTER_LOSS: {"disaster_type": "flood", "loss_cny": 8000, "housing_damage": "destroyed"},
    EventType.INCOME_CHANGE: {
        "previous_annual_income_cny": 40000,
        "current_annual_income_cny": 26000,
        "reason": "wage_cut",
    },
    EventType.ACCIDENT: {"out_of_pocket_cny": 2000, "lost_labour": False},
    EventType.UNEMPLOYMENT: {"previous_monthly_wage_cny": 3500},
    EventType.DISABILITY: {"level": 2},
    EventType.DEATH: {},
    EventType.EDUCATION_EXPENSE: {"out_of_pocket_cny": 3000, "stage": "university"},
    EventType.SCHOOL_DROPOUT: {"grade": "初二"},
    EventType.HOUSING_SAFETY: {"rating": "D"},
    EventType.DRINKING_WATER: {"issue": "cut_off", "days_affected": 40},
    EventType.SELF_APPLICATION: {
        "reasons": ["illness", "housing"],
        "declared_annual_income_cny": 9000,
        "statement": "医疗支出大",
    },
    EventType.GRID_REPORT: {"risk_types": ["disaster"]},
    EventType.MEASURE_UPDATE: {"case_id": "C5f3a9e0c1d2b4a6e8f0a1b2", "measure_type": "employment", "status": "done"},
    EventType.INSURANCE_STATUS: {"scheme": "basic_medical", "insured": False, "year": 2027},
    EventType.EMPLOYMENT_STATUS: {"employed": True, "since": "2026-11-01"},
}
WRONG = [-1, 1e10, "x" * 4001, [], ["unknown"], "not-a-choice", 5, {"nested": 1}, None, "12", "employment\n"]


def variants(event_type: EventType) -> list[dict[str, Any]]:
    """The valid payload, each field dropped, each field replaced by each wrong value, and an extra field."""
    base = VALID[event_type]
    found = [base, {**base, "unexpected": 1}]
    for name in PAYLOAD_MODELS[event_type].model_fields:
        found.append({k: v for k, v in base.items() if k != name})
        found += [{**base, name: wrong} for wrong in WRONG]
    return found


def test_every_payload_model_has_a_struct_and_a_valid_example() -> None:
    assert set(PAYLOAD_STRUCTS) == set(PAYLOAD_MODELS) == set(VALID)


@pytest.mark.parametrize("event_type", list(EventType))
def test_the_decoder_agrees_with_the_model(event_type: EventType) -> None:
    for payload in variants(event_type):
        try:
            expected: dict[str, Any] | None = PAYLOAD_MODELS[event_type].model_validate(payload).model_dump(mode="json")
        except pydantic.ValidationError:
            expected = None
        try:
            got: dict[str, Any] | None = decode_payload(event_type, orjson.dumps(payload))
        except msgspec.ValidationError:
            got = None
        assert got == expected, payload


def test_a_constraint_it_cannot_translate_fails_at_import() -> None:
    class Odd(pydantic.BaseModel):
        value: int = pydantic.Field(multiple_of=3)

    with pytest.raises(TypeError, match="cannot translate"):
        struct_of(Odd)


def test_a_boolean_is_not_a_number_here() -> None:
    """The one place it is stricter than pydantic's lax mode (which reads true as 1): intake stores the validated
    dump of each payload, so a boolean never stands for a number in a record it published."""
    payload = orjson.dumps({**VALID[EventType.UNEMPLOYMENT], "previous_monthly_wage_cny": True})
    with pytest.raises(msgspec.ValidationError):
        decode_payload(EventType.UNEMPLOYMENT, payload)
