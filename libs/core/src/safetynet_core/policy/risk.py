"""Policy for risk scoring: monitoring lines, warning thresholds, scoring rules, levels, the flag rule.

(The risk service's engine interprets these; the typed rule kinds are defined here.)"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MonitoringLine(_Frozen):
    region_prefix: str = Field("", pattern=r"^\d{0,12}$")
    year: int | None = None
    line_cny: float = Field(gt=0)


class LevelBand(_Frozen):
    name: str
    min_score: float = Field(ge=0)


class FlagRule(_Frozen):
    levels: list[str] = ["high", "critical"]
    any_warning: bool = True


class RiskPolicy(_Frozen):
    trailing_months: int = Field(12, gt=0)
    monitoring_lines: list[MonitoringLine]
    levels: list[LevelBand]
    flag: FlagRule = FlagRule()
    score_cap: float = 100
    warnings: list[dict[str, Any]] = []
    scoring: list[dict[str, Any]] = []
