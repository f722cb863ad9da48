"""The typed risk policy: rule kinds are discriminated, references are checked, and a new rule of an
existing kind is a YAML change only."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from safetynet_core.policy import PolicyError, load_policy, parse_policy
from safetynet_core.policy.risk import SingleAmountWarning, TrailingSumWarning
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_risk.engine import assess
from safetynet_risk.state import Member, RegistryRecord, StoredFact, build_state

RAW: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text(encoding="utf-8"))


def variant(**risk_changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(RAW)
    data["risk"].update(risk_changes)
    return data


def test_default_policy_has_typed_rules() -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    kinds = {type(w) for w in policy.risk.warnings}
    assert TrailingSumWarning in kinds and SingleAmountWarning in kinds
    assert {s.kind for s in policy.risk.scoring} >= {
        "income_within_line",
        "income_edge",
        "state_value",
        "warning_fired",
        "distinct_risk_types",
    }


@pytest.mark.parametrize(
    "bad_risk",
    [
        {"warnings": [{"id": "x", "kind": "crystal_ball", "reason_zh": "", "reason_en": ""}]},
        {
            "warnings": [
                {
                    "id": "x",
                    "kind": "trailing_sum",
                    "metric": "lottery",
                    "thresholds": [{"min_cny": 1}],
                    "reason_zh": "",
                    "reason_en": "",
                }
            ]
        },
        {
            "scoring": [
                {
                    "id": "x",
                    "kind": "warning_fired",
                    "warnings": ["nope"],
                    "points": 1,
                    "reason_zh": "",
                    "reason_en": "",
                }
            ]
        },
        {"scoring": RAW["risk"]["scoring"] + [RAW["risk"]["scoring"][0]]},
        {"levels": [{"name": "none", "min_score": 10}]},
        {"flag": {"levels": ["apocalyptic"]}},
        {"monitoring_lines": [{"region_prefix": "61x", "line_cny": 8500}]},
    ],
)
def test_invalid_risk_policies_are_refused(bad_risk: dict[str, Any]) -> None:
    with pytest.raises(PolicyError):
        parse_policy(variant(**bad_risk))


def test_a_new_rule_of_an_existing_kind_needs_only_yaml() -> None:
    accident_rule = {
        "id": "accident_trailing",
        "kind": "trailing_sum",
        "metric": "accident_oop",
        "thresholds": [{"min_cny": 3000}],
        "reason_zh": "意外自付 {value:.0f} 元",
        "reason_en": "accident out-of-pocket {value:.0f} CNY",
    }
    accident_points = {
        "id": "accident_spending",
        "kind": "warning_fired",
        "warnings": ["accident_trailing"],
        "points": 35,
        "reason_zh": "意外支出",
        "reason_en": "accident spending",
    }
    policy = parse_policy(
        variant(
            warnings=[*RAW["risk"]["warnings"], accident_rule],
            scoring=[*RAW["risk"]["scoring"], accident_points],
        )
    )
    as_of = datetime(2026, 5, 1, tzinfo=UTC)
    record = RegistryRecord(
        "H9", "610327101201", "general", 500_000, (Member("m0"),), as_of - timedelta(days=90)
    )
    accident = StoredFact(
        "e1", "accident", as_of - timedelta(days=3), {"out_of_pocket_cny": 3500, "lost_labour": False}
    )
    result = assess(build_state(record, [accident], policy.risk, as_of), policy, trigger_ids=["e1"])
    assert result.warnings == ["accident_trailing"]
    assert [(r.rule, r.points) for r in result.reasons] == [("accident_spending", 35)]
    assert result.warning_reasons[0].reason_en == "accident out-of-pocket 3500 CNY"
