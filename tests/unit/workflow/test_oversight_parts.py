"""Pure parts of the county's view: the region CSV, the reporting calendar, table cells in exports, the
dashboard's child levels and trend weeks, and the demo's case workers (who acts, which plan they write)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pytest
from openpyxl import load_workbook

from safetynet_cli import synthetic
from safetynet_cli.casework import Casework, bucket, case_workers, worked
from safetynet_core.policy import load_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE
from safetynet_workflow.oversight.dashboard import child_length, week_label
from safetynet_workflow.oversight.periods import (
    is_period_start,
    parse_quarter,
    period_end,
    period_start,
    quarter_of,
    today,
)
from safetynet_workflow.regions.models import RegionFileError, RegionLevel, default_regions, parse_regions
from safetynet_workflow.reports.export import cell, table_csv, table_xlsx

POLICY = load_policy(DEFAULT_POLICY_FILE)


def test_the_default_directory_is_longxian_with_ten_towns_and_their_villages() -> None:
    regions = {r.code: r for r in default_regions()}
    assert regions["610327"].name == "陇县" and regions["610327"].level is RegionLevel.COUNTY
    towns = [r for r in regions.values() if r.parent == "610327"]
    assert [t.name for t in towns][:3] == ["城关镇", "东风镇", "八渡镇"] and len(towns) == 10
    assert all(r.parent == r.code[:9] for r in regions.values() if r.level is RegionLevel.VILLAGE)
    assert [v.code for v in synthetic.villages()] == sorted(c for c in regions if len(c) == 12)


def test_region_files_name_their_bad_lines() -> None:
    parsed = parse_regions("\ufeffcode,name,parent\n610328,千阳县,6103\n610328100,城关镇,\n")
    assert [(r.code, r.parent) for r in parsed] == [("610328", "6103"), ("610328100", "610328")]
    with pytest.raises(RegionFileError) as bad:
        parse_regions("code,name,parent\n610328100,城关镇,610327\n610328100,城关镇,610328\n6103281001,x,\n")
    assert [(e["line"], e["field"]) for e in bad.value.errors] == [(2, "parent"), (4, "code")]
    with pytest.raises(RegionFileError) as twice:
        parse_regions("code,name,parent\n610328100,城关镇,\n610328100,城关镇,\n")
    assert twice.value.errors == [{"line": 3, "field": "code", "msg": "610328100 is listed twice"}]


@pytest.mark.parametrize(
    ("period", "day", "start", "end"),
    [
        ("week", date(2026, 12, 9), date(2026, 12, 7), date(2026, 12, 14)),
        ("month", date(2026, 12, 9), date(2026, 12, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 12, 9), date(2026, 10, 1), date(2027, 1, 1)),
        ("quarter", date(2026, 2, 28), date(2026, 1, 1), date(2026, 4, 1)),
    ],
)
def test_reporting_periods(period: str, day: date, start: date, end: date) -> None:
    assert period_start(period, day) == start and period_end(period, start) == end  # type: ignore[arg-type]
    assert is_period_start(period, start) and not is_period_start(period, start.replace(day=2))  # type: ignore[arg-type]


def test_quarters_and_the_county_day() -> None:
    assert parse_quarter("2026-Q4") == date(2026, 10, 1) and parse_quarter("2026-Q5") is None
    assert quarter_of(date(2026, 4, 1)) == "2026-Q2"
    assert today(datetime(2026, 12, 6, 17, 0, tzinfo=UTC)) == date(2026, 12, 7)  # already Monday in China


def test_export_cells_are_safe_text_or_numbers() -> None:
    assert cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")" and cell("-1+2") == "'-1+2"
    assert cell(-3) == -3 and cell(2.5) == 2.5 and cell(None) == "" and cell(["a", "b"]) == "a、b"
    assert cell(datetime(2026, 12, 6, 17, 30, tzinfo=UTC)) == "2026-12-07 01:30"
    assert table_csv(["户主"], [["王芳"]]).decode("utf-8") == "\ufeff户主\r\n王芳\r\n"
    sheet = load_workbook(io.BytesIO(table_xlsx(["户主", "分值"], [["+王", 60]], "案件"))).active
    assert sheet is not None and list(sheet.values) == [("户主", "分值"), ("'+王", 60)]


def test_dashboard_children_and_weeks() -> None:
    assert [child_length(p) for p in ("", "61", "6103", "610327", "610327100", "610327100201")] == [
        6, 4, 6, 9, 12, 12,
    ]  # fmt: skip
    monday = datetime(2026, 11, 30, tzinfo=UTC)
    assert week_label(monday, 86400) == "2026-11-30" and week_label(monday, 4).startswith("2026-11-30T08:00:00")


def test_the_demo_case_workers_act_where_the_task_is_and_plan_for_every_risk() -> None:
    workers = case_workers("610327", ["610327100201", "610327101202"])
    names = {w.username for w in workers}
    assert {"cadre_610327100201", "town_610327101", "county_610327", "audit_610327"} <= names
    work = Casework(http=None, policy=POLICY, county="610327", tokens=dict.fromkeys(names, "t"))  # type: ignore[arg-type]
    escalated = {"region_code": "610327", "role": "county_officer", "assignee": None}
    assert work.actor({"region_code": "610327100201", "role": "village_cadre"}) == "cadre_610327100201"
    assert work.actor({"region_code": "610327101", "role": "township_officer"}) == "town_610327101"
    assert work.actor(escalated) == "county_610327"
    assert work.actor({"region_code": "610327", "role": "department_officer", "department": "housing"}) == (
        "dept_610327_housing"
    )
    case = {"risk_types": ["illness", "housing"], "household": {"labour_members": 0}}
    plan = work.plan(case, "cadre_610327100201")
    types = [m["type"] for m in plan["measures"]]
    assert types == ["medical_assistance", "housing_renovation", "minimum_living_allowance"]
    assert plan["responsible"] == "cadre_610327100201"
    everything = [m["type"] for m in work.plan({"risk_types": [], "household": None}, "c", everything=True)["measures"]]
    assert everything == ["employment", "minimum_living_allowance"]
    shares = sum(worked(f"H{i}") for i in range(1000)) / 1000
    assert 0.6 < shares < 0.8 and all(0 <= bucket(f"H{i}") < 100 for i in range(100))
