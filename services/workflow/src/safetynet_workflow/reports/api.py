"""`GET /v1/reports/summary`: the county bureau's view of a region over a week, month or quarter, as JSON
or CSV (`?format=csv` or `Accept: text/csv`)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from safetynet_core.web import CurrentPrincipal
from safetynet_workflow.clients.notify import NotifyClient, NotifyUnavailable
from safetynet_workflow.deps import BearerToken, NotifyDep, PolicyDep, adapter
from safetynet_workflow.regions.api import RegionsDep
from safetynet_workflow.reports.service import missed_rule, named, report_region
from safetynet_workflow.reports.store import ReportStore

router = APIRouter(prefix="/v1/reports", tags=["reports"])
ReportStoreDep = Annotated[ReportStore, Depends(adapter(ReportStore))]
PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30), "quarter": timedelta(days=91)}
MISSED_LIMIT = 1000



async def _notifications(notify: NotifyClient, token: str, prefix: str, since: datetime) -> dict[str, Any]:
    try:
        summary = await notify.summary(token, prefix, since)
    except NotifyUnavailable as exc:
        return {"notifications_sent": None, "notifications_by_status": {}, "notifications_error": str(exc)}
    return {
        "notifications_sent": int(summary.get("sent", 0)),
        "notifications_by_status": summary.get("by_status", {}),
        "notifications_error": None,
    }


def _csv_rows(report: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """One `section,name,value` row per number; the 应纳未纳 list as one row per household."""
    rows: list[tuple[str, str, Any]] = []
    for key, value in report.items():
        if key == "missed_inclusions":
            rows.extend(
                (
                    "missed_inclusion",
                    m["household_id"],
                    f"{m['region_name']} {m['category'] or '-'} {m['level']} {'|'.join(m['warnings'])}",
                )
                for m in value
            )
        elif isinstance(value, dict):
            rows.extend((key, str(name), "" if v is None else v) for name, v in value.items())
        else:
            rows.append(("summary", key, "" if value is None else value))
    return rows


def to_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("section", "name", "value"))
    writer.writerows(_csv_rows(report))
    return buffer.getvalue()


@router.get("/summary")
async def summary(
    request: Request,
    principal: CurrentPrincipal,
    store: ReportStoreDep,
    policy: PolicyDep,
    notify: NotifyDep,
    token: BearerToken,
    regions: RegionsDep,
    region: Annotated[str | None, Query(pattern=r"^\d{1,12}$")] = None,
    period: Literal["week", "month", "quarter"] = "month",
    fmt: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
    grid: Annotated[str | None, Query(max_length=100, description="only this grid's households")] = None,
) -> Response:
    """Events by department, flagged households by category and risk type, cases by step and status,
    identification time, open/overdue tasks by escalation level, eliminations, inspections,
    notifications sent and the 应纳未纳 list (flagged households without a case), for a region."""
    prefix = report_region(principal, region)
    now = datetime.now(UTC)
    since = now - PERIODS[period]
    limit_days = policy.workflow.identification_days
    body = await store.summary(
        prefix, since, now, limit_days=limit_days, missed=missed_rule(policy), missed_limit=MISSED_LIMIT, grid=grid
    )
    body["missed_inclusions"] = named(body["missed_inclusions"], regions)
    report = {
        "region": prefix,
        "region_name": regions.label(prefix),
        "period": period,
        "grid": grid,
        "since": since.isoformat(),
        "until": now.isoformat(),
        **body,
        **await _notifications(notify, token, prefix, since),
    }
    wants_csv = fmt == "csv" or (fmt is None and "text/csv" in request.headers.get("accept", ""))
    if wants_csv:
        filename = f"safetynet-report-{prefix or 'all'}-{period}-{now:%Y%m%d}.csv"
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    return JSONResponse(_jsonable(report))


MISSED_CSV_FIELDS = ("household_id", "head_name", "region_code", "region_name", "category", "level", "score", "why",
                     "assessed_at")  # fmt: skip


def missed_csv(items: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((*MISSED_CSV_FIELDS, "risk_types", "reasons"))
    for item in items:
        reasons = "; ".join(r.get("reason_zh") or r.get("rule", "") for r in item["reasons"])
        writer.writerow((*(item.get(f) for f in MISSED_CSV_FIELDS), "|".join(item["risk_types"]), reasons))
    return buffer.getvalue()


@router.get("/missed-inclusions")
async def missed_inclusions(
    principal: CurrentPrincipal,
    store: ReportStoreDep,
    policy: PolicyDep,
    regions: RegionsDep,
    region: Annotated[str | None, Query(pattern=r"^\d{1,12}$")] = None,
    fmt: Annotated[Literal["json", "csv"], Query(alias="format")] = "json",
    limit: Annotated[int, Query(ge=1, le=5000)] = MISSED_LIMIT,
) -> Response:
    """应纳未纳: households whose latest assessment opens a case and that have no open case, because none was
    opened within the identification limit (`why`: not_opened_in_time) or because their last case was
    dismissed or found not eligible before that assessment (earlier_case_closed); with the assessment's
    reasons, oldest flag first."""
    prefix = report_region(principal, region)
    now = datetime.now(UTC)
    items = named(await store.missed_inclusions(prefix, now, missed_rule(policy), limit), regions)
    if fmt == "csv":
        filename = f"safetynet-missed-inclusions-{prefix or 'all'}-{now:%Y%m%d}.csv"
        return Response(missed_csv(items), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})  # fmt: skip
    body = {"region": prefix, "region_name": regions.label(prefix), "count": len(items), "missed_inclusions": items}
    return JSONResponse(_jsonable(body))


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
