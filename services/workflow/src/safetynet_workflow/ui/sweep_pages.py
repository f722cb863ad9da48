"""Sweeps (排查): the list in the caller's scope with progress, one sweep's page, and the launch form
for the policy's launcher roles. Data and checks are the `/v1/sweeps` handlers'."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from safetynet_core.errors import ApiError
from safetynet_workflow.deps import ClientDep, SettingsDep
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps_api import SweepLaunch, get_sweep, launch_sweep, list_sweeps
from safetynet_workflow.ui.case_pages import workflow_policy
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
    Column("region_code", "col.region"),
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
    settings: SettingsDep,
    status: Annotated[str | None, Query(pattern="^(selecting|running|closed)$")] = None,
) -> Response:
    found = await list_sweeps(principal, request, status=status)
    launchers = workflow_policy(settings).sweeps.launcher_roles
    return listing(
        request, principal, AREA, COLUMNS, [with_progress(s) for s in found["sweeps"]],
        id_key="sweep_id", filters=STATUSES, filter_prefix="sweep_status.", chosen=status,
        new_href="/sweeps/new" if may(principal, launchers) else None,
    )  # fmt: skip


def target_groups(settings: Settings) -> list[str]:
    return [g.group for g in workflow_policy(settings).sweeps.default_target]


@router.get("/sweeps/new")
async def launch_form(request: Request, principal: UiPrincipal, settings: SettingsDep) -> Response:
    state = prefilled(region_code=principal.region)
    return LAUNCH.page(request, principal, settings, state, target_groups=target_groups(settings))


@router.post("/sweeps/new")
async def launch(request: Request, principal: UiPrincipal, settings: SettingsDep, client: ClientDep) -> Response:
    """Launch with the policy's default target rule (the API's own launch and checks)."""
    return await LAUNCH.handle(
        request,
        principal,
        settings,
        lambda body: launch_sweep(body, principal, request, client, settings),
        lambda sweep: record_href("/sweeps", sweep["sweep_id"]),
        target_groups=target_groups(settings),
    )


@router.get("/sweeps/{sweep_id}")
async def sweep_page(sweep_id: str, request: Request, principal: UiPrincipal) -> Response:
    try:
        sweep = await get_sweep(sweep_id, principal, request)
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    return record(request, principal, AREA, with_progress(sweep), FACTS, id_key="sweep_id", list_href="/sweeps")
