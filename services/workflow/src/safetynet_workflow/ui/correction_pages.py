"""Registry corrections (信息更正纠错): the list in scope, one correction with its evidence and its
review / approval tasks (worked on the task page, like inbox tasks), and the filing form. Data and
checks are the `/v1/corrections` handlers'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_workflow.corrections import VALUE_CHECKS, CorrectionField, CorrectionRequest, CorrectionStatus
from safetynet_workflow.corrections_api import FILER_ROLES, file_correction, get_correction, list_corrections
from safetynet_workflow.deps import ClientDep, SettingsDep, StoreDep
from safetynet_workflow.reports.tables import report_households
from safetynet_workflow.settings import Settings
from safetynet_workflow.store import Store
from safetynet_workflow.ui.case_pages import task_titles, workflow_policy
from safetynet_workflow.ui.i18n import lang_of
from safetynet_workflow.ui.links import record_href
from safetynet_workflow.ui.records import (
    Cell,
    Column,
    EntryForm,
    listing,
    may,
    prefilled,
    record,
    workable_tasks,
)
from safetynet_workflow.ui.render import api_error_message, error_page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
AREA = "corrections"
STATUSES = tuple(s.value for s in CorrectionStatus)
TRUE_TEXTS = frozenset({"true", "yes", "1", "on", "是"})
COLUMNS = (
    Column("correction_id", "col.correction", Cell.LINK),
    Column("household_id", "col.household"),
    Column("field", "col.field", Cell.LABEL, "correction_field."),
    Column("value", "col.new_value"),
    Column("status", "col.status", Cell.LABEL, "correction_status."),
    Column("created_at", "col.created", Cell.TIME),
)
FACTS = (
    *COLUMNS[1:3],
    Column("member_id", "col.member"),
    Column("registry_value", "col.registry_value"),
    *COLUMNS[3:],
    Column("reason", "col.reason"),
    Column("region_code", "col.region"),
    Column("filed_by", "col.filed_by"),
    Column("decided_at", "col.decided", Cell.TIME),
)


def typed_value(data: dict[str, Any]) -> dict[str, Any]:
    """The form's text value as the field's type (a number, a yes/no), so the model checks the rest."""
    raw, field = data.get("value"), data.get("field")
    if not isinstance(raw, str) or field not in CorrectionField._value2member_map_:
        return data
    types, _ = VALUE_CHECKS[CorrectionField(str(field))]
    if types is bool:
        return {**data, "value": raw.strip().lower() in TRUE_TEXTS}
    if types == (int, float):
        try:
            return {**data, "value": float(raw)}
        except ValueError:
            return data
    return data


FILING = EntryForm(AREA, CorrectionRequest, "/corrections", whole="value", prepare=typed_value)


@router.get("/corrections")
async def corrections_page(
    request: Request,
    principal: UiPrincipal,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
) -> Response:
    found = await list_corrections(principal, request, status=status)
    return listing(
        request, principal, AREA, COLUMNS, found["corrections"], id_key="correction_id", filters=STATUSES,
        filter_prefix="correction_status.", chosen=status,
        new_href="/corrections/new" if may(principal, FILER_ROLES) else None,
    )  # fmt: skip


@router.get("/corrections/new")
async def filing_form(
    request: Request, principal: UiPrincipal, settings: SettingsDep, household_id: str = ""
) -> Response:
    return FILING.page(request, principal, settings, prefilled(household_id=household_id))


@router.post("/corrections/new")
async def file(request: Request, principal: UiPrincipal, settings: SettingsDep, client: ClientDep) -> Response:
    """File through the API's own handler; the model's cross-field checks land on the value field."""
    return await FILING.handle(
        request,
        principal,
        settings,
        lambda body: file_correction(body, principal, request, client, settings),
        lambda filed: record_href("/corrections", filed["correction_id"]),
    )


async def registry_value(request: Request, household_id: str, field: str) -> Any:
    """The field's value in the registry facts the workflow keeps (status, income); None for the rest."""
    h = report_households.c
    query = select(h.poverty_status, h.income_pc, h.members).where(h.household_id == household_id)
    async with request.app.state.db.engine.connect() as conn:
        row = (await conn.execute(query)).mappings().first()
    if row is None:
        return None
    if field == CorrectionField.POVERTY_STATUS:
        return row["poverty_status"]
    if field == CorrectionField.ANNUAL_NET_INCOME_CNY and row["income_pc"] is not None and row["members"]:
        return round(row["income_pc"] * row["members"])
    return None


async def correction_context(
    request: Request, principal: Principal, store: Store, settings: Settings, correction_id: str
) -> dict[str, Any]:
    item = await get_correction(correction_id, principal, request)
    registry = await registry_value(request, item["household_id"], item["field"])
    return {
        "item": {**item, "registry_value": registry},
        "tasks": item["tasks"],
        "workable": await workable_tasks(principal, store, item["tasks"]),
        "titles": task_titles(workflow_policy(settings), lang_of(request)),
    }


@router.get("/corrections/{correction_id}")
async def correction_page(
    correction_id: str, request: Request, principal: UiPrincipal, store: StoreDep, settings: SettingsDep
) -> Response:
    try:
        context = await correction_context(request, principal, store, settings, correction_id)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return record(request, principal, AREA, facts=FACTS, id_key="correction_id", list_href="/corrections", **context)
