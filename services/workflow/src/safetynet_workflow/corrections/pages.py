"""Registry corrections (信息更正纠错): the list in scope, one correction with its evidence and its
review / approval tasks (worked on the task page, like inbox tasks), and the filing form. Data and
checks are the correction service's (as for `/v1/corrections`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.policy.workflow import WorkflowPolicy
from safetynet_core.web import listing_region
from safetynet_workflow.corrections import service
from safetynet_workflow.corrections.api import CorrectionStoreDep
from safetynet_workflow.corrections.models import VALUE_CHECKS, CorrectionField, CorrectionRequest, CorrectionStatus
from safetynet_workflow.corrections.service import FILER_ROLES
from safetynet_workflow.corrections.store import CorrectionStore
from safetynet_workflow.deps import PolicyDep, StarterDep
from safetynet_workflow.tasks.api import TaskStoreDep
from safetynet_workflow.tasks.store import TaskStore
from safetynet_workflow.ui.i18n import lang_of, task_titles
from safetynet_workflow.ui.links import record_href
from safetynet_workflow.ui.records import (
    Cell,
    Column,
    EntryForm,
    listing,
    may,
    prefilled,
    record,
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
    Column("region_code", "col.region", Cell.REGION),
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
    store: CorrectionStoreDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
) -> Response:
    found = await store.list(listing_region(principal, None), status, None, 100)
    return listing(
        request, principal, AREA, COLUMNS, found, id_key="correction_id", filters=STATUSES,
        filter_prefix="correction_status.", chosen=status,
        new_href="/corrections/new" if may(principal, FILER_ROLES) else None,
    )  # fmt: skip


@router.get("/corrections/new")
async def filing_form(request: Request, principal: UiPrincipal, policy: PolicyDep, household_id: str = "") -> Response:
    return FILING.page(request, principal, policy.workflow, prefilled(household_id=household_id))


@router.post("/corrections/new")
async def file(request: Request, principal: UiPrincipal, store: CorrectionStoreDep, starter: StarterDep) -> Response:
    """File through the service's own filing; the model's cross-field checks land on the value field."""
    return await FILING.handle(
        request,
        principal,
        starter.policy.workflow,
        lambda body: service.file(principal, body, store, starter),
        lambda filed: record_href("/corrections", filed["correction_id"]),
    )


async def correction_context(
    request: Request,
    principal: Principal,
    store: CorrectionStore,
    tasks: TaskStore,
    policy: WorkflowPolicy,
    correction_id: str,
) -> dict[str, Any]:
    item = await service.correction(principal, store, correction_id)
    registry = await service.registry_value(store, item["household_id"], item["field"])
    return {
        "item": {**item, "registry_value": registry},
        "tasks": item["tasks"],
        "workable": await tasks.workable(principal, item["tasks"]),
        "titles": task_titles(policy, lang_of(request)),
    }


@router.get("/corrections/{correction_id}")
async def correction_page(
    correction_id: str,
    request: Request,
    principal: UiPrincipal,
    store: CorrectionStoreDep,
    tasks: TaskStoreDep,
    policy: PolicyDep,
) -> Response:
    try:
        context = await correction_context(request, principal, store, tasks, policy.workflow, correction_id)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return record(request, principal, AREA, facts=FACTS, id_key="correction_id", list_href="/corrections", **context)
