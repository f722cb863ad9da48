"""The dashboard's answer (CONTRACT.md, Oversight), as its OpenAPI document shows it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RegionRef(BaseModel):
    code: str
    name: str


class CasesByStep(BaseModel):
    screen: int
    verify: int
    assist: int
    evaluate: int


class RegionNumbers(RegionRef):
    monitored_households: int = Field(description="households with an open case")
    cases_by_step: CasesByStep = Field(description="open cases by step")
    open_tasks: int
    overdue_tasks: int
    identification_breaches: int = Field(description="cases past the identification limit")
    missed_inclusions: int = Field(description="应纳未纳")


class TrendWeek(BaseModel):
    week: str = Field(description="the week's first day (a drill clock's short week: its first moment)")
    opened: int
    closed: int
    starts_at: str
    ends_at: str


class Dashboard(BaseModel):
    region: RegionRef
    children: list[RegionNumbers]
    totals: RegionNumbers = Field(description="the region as a whole, counted as the summary report counts")
    trend: list[TrendWeek] = Field(description="the last twelve policy weeks, oldest first")
