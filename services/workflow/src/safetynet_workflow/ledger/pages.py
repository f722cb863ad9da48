"""The rectification ledger (三单一账): problems in scope with source, owner task, deadline, overdue mark,
escalation level and status; one item's page (its rectification task is closed with evidence on the
task page); the finding form for auditors and officers. Data and checks are the ledger service's."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from safetynet_core.errors import ApiError
from safetynet_core.web import listing_region
from safetynet_workflow.deps import PolicyDep, StarterDep
from safetynet_workflow.ledger import service
from safetynet_workflow.ledger.api import LedgerStoreDep
from safetynet_workflow.ledger.service import RECORDER_ROLES, ReportedFinding
from safetynet_workflow.tasks.api import TaskStoreDep
from safetynet_workflow.ui.i18n import lang_of, task_titles
from safetynet_workflow.ui.records import (
    Cell,
    Column,
    EntryForm,
    is_late,
    listing,
    may,
    prefilled,
    record,
)
from safetynet_workflow.ui.render import api_error_message, error_page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
AREA = "ledger"
STATUSES = ("open", "closed")
COLUMNS = (
    Column("item_id", "col.item", Cell.LINK),
    Column("source", "col.source", Cell.LABEL, "ledger_source."),
    Column("problem", "col.problem"),
    Column("owner_role", "col.owner", Cell.LABEL, "role."),
    Column("due_at", "col.deadline", Cell.TIME),
    Column("late", "col.overdue", Cell.LATE),
    Column("escalation_level", "col.escalation"),
    Column("status", "col.status", Cell.LABEL, "ledger_status."),
)
FACTS = (
    *COLUMNS[1:],
    Column("source_ref", "col.source_ref"),
    Column("region_code", "col.region", Cell.REGION),
    Column("household_id", "col.household"),
    Column("owner_region", "col.owner_region"),
    Column("assignee", "col.assignee"),
    Column("created_by", "col.created_by"),
    Column("created_at", "col.created", Cell.TIME),
    Column("closed_at", "col.closed", Cell.TIME),
)

FINDING = EntryForm(AREA, ReportedFinding, "/ledger")


def with_late(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "late": is_late(item)}


@router.get("/ledger")
async def ledger_page(
    request: Request,
    principal: UiPrincipal,
    store: LedgerStoreDep,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    recorded: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    found = await store.list(listing_region(principal, None), status, None, 100)
    return listing(
        request, principal, AREA, COLUMNS, [with_late(i) for i in found], id_key="item_id",
        filters=STATUSES, filter_prefix="ledger_status.", chosen=status, recorded=recorded,
        new_href="/ledger/new" if may(principal, RECORDER_ROLES) else None,
    )  # fmt: skip


@router.get("/ledger/new")
async def finding_form(request: Request, principal: UiPrincipal, policy: PolicyDep) -> Response:
    return FINDING.page(request, principal, policy.workflow, prefilled(region_code=principal.region))


@router.post("/ledger/new")
async def enter_finding(request: Request, principal: UiPrincipal, starter: StarterDep) -> Response:
    """Enter a finding through the ledger service; the item is listed once its workflow has recorded it."""
    return await FINDING.handle(
        request,
        principal,
        starter.policy.workflow,
        lambda body: service.record_finding(principal, body, starter),
        lambda recorded: f"/ledger?recorded={quote(recorded['item_id'], safe='')}",
    )


@router.get("/ledger/{item_id}")
async def ledger_item_page(
    item_id: str,
    request: Request,
    principal: UiPrincipal,
    store: LedgerStoreDep,
    tasks: TaskStoreDep,
    policy: PolicyDep,
) -> Response:
    try:
        item = with_late(await service.ledger_item(principal, store, item_id))
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    owner = [{**item, "kind": "rectification", "status": item["task_status"]}] if item["task_id"] else []
    return record(
        request, principal, AREA, item, FACTS, id_key="item_id", list_href="/ledger", tasks=owner,
        workable=await tasks.workable(principal, owner),
        titles=task_titles(policy.workflow, lang_of(request)),
    )  # fmt: skip
