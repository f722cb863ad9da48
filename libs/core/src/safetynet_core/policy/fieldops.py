"""Policy for field operations: grid routing, sweeps (排查) and their target rule, the rectification ledger."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from safetynet_core.policy.base import PolicySection


class SweepKind(StrEnum):
    ROUTINE = "routine"
    PERIODIC = "periodic"
    CONCENTRATED = "concentrated"


class GridRouting(PolicySection):
    """Tasks at these levels go to the household's grid worker first; the first escalation hands them
    to the level's usual role (the village cadre) before they climb the ladder."""

    first_levels: list[str] = ["village"]
    role: str = "grid_worker"


class TargetGroup(PolicySection):
    """One must-visit group: a household belongs when any condition set here holds."""

    group: str
    risk_types: list[str] = []
    warnings: list[str] = []
    income_pc_within_line_times: float | None = Field(None, gt=0)
    min_in_school: int | None = Field(None, ge=1)
    no_labour: bool = False


DEFAULT_TARGET = [
    TargetGroup(group="low_or_falling_income", income_pc_within_line_times=1.0, warnings=["income_drop"]),
    TargetGroup(group="illness", risk_types=["illness"]),
    TargetGroup(group="safety_net_households", no_labour=True, risk_types=["labour_shortage"]),
    TargetGroup(group="disability", risk_types=["disability"]),
    TargetGroup(group="schooling", min_in_school=2, risk_types=["education"]),
    TargetGroup(group="unstable_work", risk_types=["unstable_employment"]),
    TargetGroup(group="disaster", risk_types=["disaster"]),
]


class SweepPolicy(PolicySection):
    batch_size: int = Field(200, ge=1, le=2000)
    default_target: list[TargetGroup] = DEFAULT_TARGET
    launcher_roles: list[str] = ["township_officer", "county_officer"]


class LedgerPolicy(PolicySection):
    """Rectification items (三单一账): their task kind (owner role, level, deadline in `tasks`) and sources."""

    task_kind: str = "rectification"
    sources: list[str] = ["inspection", "audit", "report"]
    from_failed_inspections: bool = True
