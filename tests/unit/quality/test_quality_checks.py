"""The registry data-quality checks without a database: which findings reject and which only flag."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from safetynet_intake import quality
from safetynet_intake.grids import parse_grid_csv
from safetynet_intake.samples import household_record
from safetynet_intake.validation import HouseholdRecordIn, InvalidInput, validate_household

TODAY = date(2026, 12, 1)


def valid_id(region: str, born: date, serial: str = "123") -> str:
    body = f"{region[:6]}{born:%Y%m%d}{serial}"
    return body + quality.id_check_digit(body)


def member(member_id: str, born: date, capacity: str = "full", **changes: Any) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "name": "王五",
        "id_number": valid_id("610327", born),
        "birth_date": born.isoformat(),
        "labour_capacity": capacity,
        "in_school": False,
        **changes,
    }


def record(*members: dict[str, Any], income: float = 30000) -> HouseholdRecordIn:
    doc = household_record("H1", members=list(members), annual_net_income_cny=income, head_member_id="A")
    return HouseholdRecordIn.model_validate(doc)


def rules(findings: list[quality.Finding]) -> set[tuple[str, str]]:
    return {(f.check, f.rule) for f in findings}


def test_check_digit_follows_gb_11643() -> None:
    assert quality.id_check_digit("11010519491231002") == "X"  # the standard's worked example
    assert valid_id("610327", date(1980, 1, 1), "123")[-1] == quality.id_check_digit("61032719800101123")


def test_clean_record_has_no_findings() -> None:
    clean = record(member("A", date(1980, 5, 1)), member("B", date(2015, 3, 3), "none", in_school=True))
    assert quality.reject_findings(clean, TODAY) == []
    assert quality.flag_findings(clean, TODAY) == []


def test_birth_date_contradicting_the_id_number_is_rejected_with_the_field() -> None:
    bad = household_record("H1")
    bad["members"][0]["birth_date"] = "1981-01-01"
    with pytest.raises(InvalidInput) as exc:
        validate_household(bad, [])
    [error] = exc.value.errors
    assert error["loc"] == ["members", 0, "birth_date"]
    assert error["type"] == "format.birth_date_mismatch"


def test_impossible_embedded_date_and_blank_name_are_rejected() -> None:
    bad = household_record("H1")
    bad["members"][0]["id_number"] = "610327198013011234"
    bad["members"][1]["name"] = "   "
    with pytest.raises(InvalidInput) as exc:
        validate_household(bad, ["body"])
    assert {tuple(e["loc"]) for e in exc.value.errors} == {
        ("body", "members", 0, "id_number"),
        ("body", "members", 1, "name"),
    }


def test_existing_format_rejections_stay() -> None:
    with pytest.raises(InvalidInput):
        validate_household(household_record("H1", region_code="6103271012"), [])
    with pytest.raises(InvalidInput):
        validate_household(household_record("H1", head_member_id="M9"), [])


def test_wrong_check_digit_is_flagged_not_rejected() -> None:
    accepted = validate_household(household_record("H1"), [])  # the samples carry wrong check digits
    assert ("format", "id_check_digit") in rules(quality.flag_findings(accepted, TODAY))


def test_cross_field_and_warning_flags() -> None:
    child_worker = record(member("A", date(1980, 1, 1)), member("B", date(2015, 1, 1), "full"))
    assert ("cross_field", "child_full_labour") in rules(quality.flag_findings(child_worker, TODAY))
    idle = record(member("A", date(1980, 1, 1)), income=0)
    assert ("cross_field", "labour_without_income") in rules(quality.flag_findings(idle, TODAY))
    rich = record(member("A", date(1980, 1, 1)), income=900_000)
    assert ("warning_review", "income_pc_implausible") in rules(quality.flag_findings(rich, TODAY))
    student = record(member("A", date(1960, 1, 1), in_school=True))
    assert ("warning_review", "in_school_adult") in rules(quality.flag_findings(student, TODAY))


def test_id_hash_is_peppered_and_normalised() -> None:
    number = "61032720100202123x"
    assert quality.id_number_hash(number, "p" * 32) == quality.id_number_hash(number.upper(), "p" * 32)
    assert quality.id_number_hash(number, "p" * 32) != quality.id_number_hash(number, "q" * 32)
    assert number.upper() not in quality.id_number_hash(number, "p" * 32)


def test_grid_csv_parsing_reports_bad_lines() -> None:
    rows, errors = parse_grid_csv("household_id,grid_id,grid_worker_username\nH1,G-1,wang\nH2,G-2\nH3\n\nH4,bad grid\n")
    assert [(r.household_id, r.grid_id, r.grid_worker_username) for r in rows] == [
        ("H1", "G-1", "wang"),
        ("H2", "G-2", None),
    ]
    assert [e["line"] for e in errors] == [4, 6]
