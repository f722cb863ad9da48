"""Unit tests of the workflow service's pure parts: forms, sampling, assessment parsing, case events,
user checks and the projection's metric observation."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from workflow_harness import PLAN, POLICY, SAFETY_PLAN, SECURE, VISIT

from safetynet_core.contracts import (
    SCHEMA_VERSION,
    PoisonRecord,
    RiskAssessmentMessage,
    from_struct,
    parse_assessment,
    to_timestamp,
)
from safetynet_workflow.auth.admin import check_account
from safetynet_workflow.cases.opening import evidence_from
from safetynet_workflow.inspection.models import SampledCase
from safetynet_workflow.inspection.sampling import stratified_sample
from safetynet_workflow.projection.events import case_event
from safetynet_workflow.projection.models import Change, Entry, TaskState
from safetynet_workflow.tasks.forms import FormInvalid, validate_form

RULES = POLICY.workflow


def errors_of(kind: str, form: dict[str, Any], **kw: Any) -> set[tuple[Any, ...]]:
    with pytest.raises(FormInvalid) as failure:
        validate_form(kind, form, RULES, **kw)
    return {tuple(e["loc"]) for e in failure.value.errors}


def test_forms_accept_the_contract_shapes() -> None:
    validate_form("screen", {"decision": "proceed"}, RULES)
    validate_form("home_visit", VISIT, RULES)
    validate_form("assistance_plan", PLAN, RULES)
    validate_form("assistance_plan", SAFETY_PLAN, RULES, has_labour=False)
    validate_form("measure", {"started_on": "2026-03-01", "notes": ""}, RULES)
    validate_form("review", {"annual_net_income_cny": 1, "guarantees": SECURE, "notes": ""}, RULES)
    validate_form("review", {"annual_net_income_cny": 1, "guarantees": SECURE, "guarantees_secure": True}, RULES)
    validate_form("inspection", {"result": "fail", "findings": "x"}, RULES)
    validate_form("county_approval", {"decision": "approve", "category": "marginal"}, RULES)


def test_forms_name_the_bad_fields() -> None:
    assert errors_of("screen", {"decision": "dismiss"}) == {("body", "reason")}
    assert errors_of("home_visit", {**VISIT, "visitors": ["A", " A "]}) == {("body", "visitors")}
    assert errors_of("home_visit", {**VISIT, "consent": False}) == {("body", "consent")}
    assert ("body", "unexpected") in errors_of("measure", {"started_on": "2026-01-01", "unexpected": 1})
    assert errors_of("township_review", {"decision": "ok"}) == {("body", "decision")}


def test_assistance_plan_rules_come_from_the_policy() -> None:
    loan = {
        "type": "microcredit",
        "department": "rural_revitalization",
        "description": "loan",
        "amount_cny": 60_000,
        "years": 5,
    }
    assert errors_of("assistance_plan", {"measures": [loan], "responsible": "cadre"}) == {
        ("body", "measures", 0, "amount_cny"),
        ("body", "measures", 0, "years"),
    }
    care = {"type": "medical_assistance", "department": "medical_insurance", "description": "care"}
    assert errors_of("assistance_plan", {"measures": [care], "responsible": "c"}) == {("body", "measures")}  # work
    assert errors_of("assistance_plan", PLAN, has_labour=False) == {("body", "measures")}  # needs safety net
    odd = {"type": "lottery", "department": "civil_affairs", "description": "x"}
    odd_plan = {**PLAN, "measures": [PLAN["measures"][0], odd]}
    assert ("body", "measures", 1, "type") in errors_of("assistance_plan", odd_plan)
    assert ("body", "measures", 0, "department") in errors_of(
        "assistance_plan", {**PLAN, "measures": [{**PLAN["measures"][0], "department": "nasa"}]}
    )


def _closed(count_per_village: int) -> list[SampledCase]:
    cases = []
    for township in ("100", "101", "102"):
        for village in ("201", "202", "203", "204"):
            for i in range(count_per_village):
                region = f"610327{township}{village}"
                cases.append(
                    SampledCase(
                        case_id=f"C{region}{i}",
                        household_id=f"H{region}{i}",
                        region_code=region,
                        close_reason="risk_eliminated",
                    )
                )
    return cases


def test_stratified_sample_is_reproducible_and_within_the_ranges() -> None:
    closed = _closed(6)
    rules = RULES.inspection
    first = stratified_sample(closed, rules, 7)
    assert first == stratified_sample(list(reversed(closed)), rules, 7)
    townships = {c.region_code[:9] for c in first}
    assert rules.townships_per_county[0] <= len(townships) <= rules.townships_per_county[1]
    for township in townships:
        villages = {c.region_code for c in first if c.region_code.startswith(township)}
        assert rules.villages_per_township[0] <= len(villages) <= rules.villages_per_township[1]
        for village in villages:
            picked = [c for c in first if c.region_code == village]
            assert rules.households_per_village[0] <= len(picked) <= rules.households_per_village[1]
    assert any(stratified_sample(closed, rules, seed) != first for seed in range(8, 20))
    assert stratified_sample([], rules, 1) == []
    assert len(stratified_sample(_closed(1), rules, 3)) >= 2  # small villages: everyone there


def _assessment(**overrides: Any) -> RiskAssessmentMessage:
    message = RiskAssessmentMessage(
        assessment_id="a1",
        household_id="H1",
        region_code="610327100201",
        level="high",
        opens_case=True,
        risk_types=["illness"],
        score=70,
    )
    message.assessed_at.CopyFrom(to_timestamp(datetime(2026, 3, 1, tzinfo=UTC)))
    for key, value in overrides.items():
        setattr(message, key, value)
    return message


def test_assessments_become_evidence_or_poison() -> None:
    evidence = evidence_from(parse_assessment(_assessment().SerializeToString()))
    assert (evidence.household_id, evidence.level, evidence.assessed_at.day) == ("H1", "high", 1)
    poison = {
        "undecodable": b"\xff\xff garbage",
        "schema_version": _assessment(schema_version=SCHEMA_VERSION + 1).SerializeToString(),
        "unknown_type": _assessment(level="apocalyptic").SerializeToString(),
    }
    for reason, value in poison.items():
        with pytest.raises(PoisonRecord) as refused:
            parse_assessment(value)
        assert refused.value.reason == reason
    with pytest.raises(PoisonRecord):
        evidence_from(_assessment(region_code="6103"))
    with pytest.raises(PoisonRecord):
        evidence_from(_assessment(assessment_id=""))
    assert POLICY.risk.monitoring_line("610327100201", 2026) == 8500


def test_case_event_carries_the_task_and_key() -> None:
    now = datetime(2026, 3, 1, tzinfo=UTC)
    task = TaskState(
        task_id="C1-screen-1",
        case_id="C1",
        workflow_id="case-H1",
        household_id="H1",
        kind="screen",
        step="screen",
        role="village_cadre",
        level="village",
        region_code="610327100201",
        base_region="610327100201",
        created_at=now,
        due_at=now,
        sla_seconds=1,
    )
    entry = Entry(
        key="C1:3", name="task.assigned", at=now, task_id=task.task_id, details={"title_en": "Screen"}, publish=True
    )
    change = Change(
        version=3,
        case_id="C1",
        household_id="H1",
        region_code="610327100201",
        step="screen",
        status="screening",
        tasks=[task],
        entries=[entry],
    )
    event = case_event(change, entry, task)
    assert (event.event_key, event.name, event.task.role, event.task.kind) == (
        "C1:3",
        "task.assigned",
        "village_cadre",
        "screen",
    )
    assert from_struct(event.details) == {"title_en": "Screen"}


def test_user_checks() -> None:
    check_account("village_cadre", "610327100201", None)
    check_account("admin", "", None)
    for role, region, department in (
        ("mayor", "6103", None),
        ("village_cadre", "61x", None),
        ("department_officer", "610327", None),
        ("department_officer", "610327", "nasa"),
    ):
        with pytest.raises(ValueError):
            check_account(role, region, department)
