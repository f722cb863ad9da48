"""Sweeps (排查): the list in the caller's scope with progress, one sweep's page, and the launch form
for the policy's launcher roles. Data and checks are the sweep service's (as for `/v1/sweeps`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from safetynet_core.errors import ApiError
from safetynet_core.policy import Policy
from safetynet_core.web import listing_region
from safetynet_workflow.deps import PolicyDep, StarterDep
from safetynet_workflow.sweeps import service
from safetynet_workflow.sweeps.api import SweepStoreDep
from safetynet_workflow.sweeps.service import SweepLaunch
from safetynet_workflow.ui.links import record_href
from safetynet_workflow.ui.records import Cell, Column, EntryForm, listing, may, prefilled, record
from safetynet_workflow.ui.render import api_error_message, error_page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
AREA = "sweeps"
STATUSES = ("selecting", "running", "closed")
COLUMNS = (
    Column("sweep_id", "col.sweep", Cell.LINK),
    Column("title", "col.title"),
    Column("kind", "col.kind", Cell.LABEL, "sweep_kind."),
    Column("region_code", "col.region", Cell.REGION),
    Column("status", "col.status", Cell.LABEL, "sweep_status."),
    Column("targeted", "col.targeted"),
    Column("visited", "col.visited"),
    Column("due", "col.due_visits"),
    Column("overdue", "col.overdue_visits"),
)
FACTS = (
    *COLUMNS[1:],
    Column("escalated", "col.escalated"),
    Column("risks_reported", "col.risks_reported"),
    Column("launched_by", "col.launched_by"),
    Column("created_at", "col.created", Cell.TIME),
    Column("closed_at", "col.closed", Cell.TIME),
)

LAUNCH = EntryForm(AREA, SweepLaunch, "/sweeps", skip=("target",))


def with_progress(sweep: dict[str, Any]) -> dict[str, Any]:
    return {**sweep, **sweep["progress"]}


@router.get("/sweeps")
async def sweeps_page(
    request: Request,
    principal: UiPrincipal,
    store: SweepStoreDep,
    policy: PolicyDep,
    status: Annotated[str | None, Query(pattern="^(selecting|running|closed)$")] = None,
) -> Response:
    found = await service.sweeps_in(store, listing_region(principal, None), status, 100)
    launchers = policy.workflow.sweeps.launcher_roles
    return listing(
        request, principal, AREA, COLUMNS, [with_progress(s) for s in found],
        id_key="sweep_id", filters=STATUSES, filter_prefix="sweep_status.", chosen=status,
        new_href="/sweeps/new" if may(principal, launchers) else None,
    )  # fmt: skip


def target_groups(policy: Policy) -> list[str]:
    return [g.group for g in policy.workflow.sweeps.default_target]


@router.get("/sweeps/new")
async def launch_form(request: Request, principal: UiPrincipal, policy: PolicyDep) -> Response:
    state = prefilled(region_code=principal.region)
    return LAUNCH.page(request, principal, policy.workflow, state, target_groups=target_groups(policy))


@router.post("/sweeps/new")
async def launch(request: Request, principal: UiPrincipal, store: SweepStoreDep, starter: StarterDep) -> Response:
    """Launch with the policy's default target rule (the service's own launch and checks)."""
    return await LAUNCH.handle(
        request,
        principal,
        starter.policy.workflow,
        lambda body: service.launch(principal, body, store, starter),
        lambda sweep: record_href("/sweeps", sweep["sweep_id"]),
        target_groups=target_groups(starter.policy),
    )


@router.get("/sweeps/{sweep_id}")
async def sweep_page(sweep_id: str, request: Request, principal: UiPrincipal, store: SweepStoreDep) -> Response:
    try:
        sweep = await service.sweep(principal, store, sweep_id)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return record(request, principal, AREA, with_progress(sweep), FACTS, id_key="sweep_id", list_href="/sweeps")
