"""The township scorecard (考核) of a quarter: per child region (the townships of a county) the share of
identifications decided within the identification limit, tasks that fell overdue per 100 cases active in the
quarter, the share of monthly reviews done on time, failed inspections, and rectification items still open
past their deadline. A quarter not over yet counts up to now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.responses import Response

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.web import require_role
from safetynet_workflow.oversight.dashboard import DASHBOARD_ROLES, DashboardSources, child_codes, child_length
from safetynet_workflow.oversight.periods import midnight, parse_quarter, period_end, period_start, quarter_of, today
from safetynet_workflow.reports.export import Format, download
from safetynet_workflow.reports.service import report_region

COUNTS = ("active_cases", "identified", "identified_within_limit", "overdue_tasks", "reviews_due",
          "reviews_on_time", "inspections", "failed_inspections", "rectification_overdue")  # fmt: skip
# Columns of the exports, in order: (key, zh-CN heading, English heading).
COLUMNS = (
    ("code", "区划代码", "Code"),
    ("name", "乡镇", "Township"),
    ("active_cases", "监测案件数", "Cases active"),
    ("identified", "完成识别", "Identified"),
    ("identified_within_limit", "期限内识别", "Identified within the limit"),
    ("identification_within_limit_share", "识别及时率", "Share identified in time"),
    ("overdue_tasks", "超期任务", "Tasks overdue"),
    ("overdue_tasks_per_100_cases", "每百案件超期任务", "Overdue tasks per 100 cases"),
    ("reviews_due", "应回访", "Reviews due"),
    ("reviews_on_time", "按时回访", "Reviews on time"),
    ("reviews_on_time_share", "回访及时率", "Share of reviews on time"),
    ("inspections", "抽检", "Inspections"),
    ("failed_inspections", "抽检未通过", "Failed inspections"),
    ("rectification_overdue", "超期未整改", "Rectification items past deadline"),
)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def township_row(code: str, name: str, counts: dict[str, int]) -> dict[str, Any]:
    row: dict[str, Any] = {"code": code, "name": name, **{k: counts.get(k, 0) for k in COUNTS}}
    row["identification_within_limit_share"] = _share(row["identified_within_limit"], row["identified"])
    row["overdue_tasks_per_100_cases"] = (
        round(100 * row["overdue_tasks"] / row["active_cases"], 2) if row["active_cases"] else None
    )
    row["reviews_on_time_share"] = _share(row["reviews_on_time"], row["reviews_due"])
    return row


def quarter_start(quarter: str | None, now: datetime) -> tuple[str, datetime, datetime]:
    """The quarter's name, start and end (the current quarter when none is named)."""
    first = parse_quarter(quarter) if quarter else period_start("quarter", today(now))
    if first is None:
        raise ApiError(422, "a quarter is written like 2026-Q4", ["query", "quarter"])
    return quarter_of(first), midnight(first), midnight(period_end("quarter", first))


async def scorecard(
    principal: Principal, sources: DashboardSources, region: str | None, quarter: str | None, now: datetime
) -> dict[str, Any]:
    """The scorecard of the children of `region` (default: the caller's own) for a quarter."""
    require_role(principal, DASHBOARD_ROLES, "see the scorecard")
    prefix = report_region(principal, region)
    name, start, end = quarter_start(quarter, now)
    workflow = sources.policy.workflow
    length = child_length(prefix)
    params = {
        "prefix": prefix, "child_length": length, "start": start, "until": min(end, now),
        "limit_days": workflow.identification_days, "rectification_kind": workflow.ledger.task_kind,
    }  # fmt: skip
    counts = await sources.oversight.scorecard(params)
    regions = sources.regions
    codes = child_codes(prefix, regions, set(counts))
    return {
        "region": {"code": prefix, "name": regions.name(prefix) if prefix else ""},
        "quarter": name,
        "starts_at": start.isoformat(),
        "ends_at": end.isoformat(),
        "identification_limit_days": workflow.identification_days,
        "townships": [township_row(code, regions.name(code), counts.get(code, {})) for code in codes],
    }


def scorecard_file(card: dict[str, Any], fmt: Format, english: bool = False) -> Response:
    """The scorecard's table as a CSV or XLSX download (headings in Chinese, or English)."""
    columns = [(key, en if english else zh) for key, zh, en in COLUMNS]
    name = f"safetynet-scorecard-{card['region']['code'] or 'all'}-{card['quarter']}"
    return download(fmt, columns, card["townships"], name, card["quarter"])
