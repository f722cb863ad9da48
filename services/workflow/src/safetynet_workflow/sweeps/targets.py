"""Who a sweep visits: the policy's must-visit groups matched against each household's facts, the
targets numbered into batches (one child workflow per batch)."""

from __future__ import annotations

from typing import Any

from safetynet_core.policy.fieldops import TargetGroup
from safetynet_workflow.sweeps.models import TargetRequest


def matching_groups(facts: dict[str, Any], target: list[TargetGroup], line: float) -> list[str]:
    """The must-visit groups a household belongs to (any condition of a group is enough)."""
    risk_types, warnings = set(facts.get("risk_types") or ()), set(facts.get("warnings") or ())
    income_pc, in_school = facts.get("income_pc"), facts.get("in_school") or 0
    found = []
    for group in target:
        factor, min_school = group.income_pc_within_line_times, group.min_in_school
        if (
            risk_types & set(group.risk_types)
            or warnings & set(group.warnings)
            or (factor is not None and income_pc is not None and income_pc <= line * factor)
            or (min_school is not None and in_school >= min_school)
            or (group.no_labour and bool(facts.get("no_labour")))
        ):
            found.append(group.group)
    return found


def choose_targets(request: TargetRequest, households: list[dict[str, Any]], line: float) -> list[dict[str, Any]]:
    """The targeted households as `sweep_targets` rows, in the order given, numbered into batches."""
    targets: list[dict[str, Any]] = []
    for facts in households:
        groups = matching_groups(facts, request.target, line)
        if groups:
            targets.append(
                {
                    "sweep_id": request.sweep_id,
                    "household_id": facts["household_id"],
                    "region_code": facts["region_code"],
                    "grid_id": facts["grid_id"],
                    "groups": groups,
                    "batch_no": len(targets) // request.batch_size,
                }
            )
    return targets
