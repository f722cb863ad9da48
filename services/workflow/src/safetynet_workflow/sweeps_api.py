"""Sweep API (/v1/sweeps): township and county officers launch sweeps over a region inside their scope;
everyone in scope reads them with their progress."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.auth import Principal, Role
from safetynet_core.errors import ApiError
from safetynet_core.policy import cached_policy
from safetynet_core.policy.fieldops import SweepKind, TargetGroup
from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.deps import ClientDep, SettingsDep
from safetynet_workflow.sweeps import SWEEP_WORKFLOW, SweepInput, sweep_workflow_id
from safetynet_workflow.sweeps_store import SweepStore, sweep_json

router = APIRouter(prefix="/v1/sweeps", tags=["sweeps"])
REGION_PATTERN = r"^\d{6}(\d{3}){0,2}$"


class SweepLaunch(BaseModel):
    """A sweep over a county, township or village; `target` defaults to the policy's must-visit groups."""

    model_config = ConfigDict(extra="forbid")

    kind: SweepKind
    region_code: str = Field(pattern=REGION_PATTERN, description="county (6), township (9) or village (12) code")
    title: str = Field("", max_length=200)
    target: list[TargetGroup] | None = Field(None, min_length=1, max_length=50)


def sweep_store(request: Request) -> SweepStore:
    return SweepStore(request.app.state.db)


def require_in_scope(principal: Principal, region_code: str, loc: list[str | int]) -> None:
    """403 unless the region lies inside the caller's scope."""
    if not principal.can_see(region_code):
        raise ApiError(403, f"region {region_code} is outside your scope", loc)


def require_role(principal: Principal, roles: list[str], action: str) -> None:
    if principal.role is not Role.ADMIN and principal.role.value not in roles:
        raise ApiError(403, f"role {principal.role.value} may not {action}", ["header", "Authorization"])


@router.post("", status_code=202)
async def launch_sweep(
    body: SweepLaunch, principal: CurrentPrincipal, request: Request, client: ClientDep, settings: SettingsDep
) -> dict[str, Any]:
    """Launch a sweep: each targeted household gets a `sweep_visit` task for its grid worker."""
    policy = cached_policy(str(settings.policy_file))
    require_role(principal, policy.workflow.sweeps.launcher_roles, "launch sweeps")
    require_in_scope(principal, body.region_code, ["body", "region_code"])
    target = body.target or policy.workflow.sweeps.default_target
    sweep_id = f"S{uuid.uuid4().hex[:20]}"
    row = {
        "sweep_id": sweep_id,
        "kind": body.kind.value,
        "region_code": body.region_code,
        "title": body.title or f"{body.kind.value} sweep {body.region_code}",
        "target": [g.model_dump(exclude_defaults=True) for g in target],
        "launched_by": principal.subject,
        "created_at": datetime.now(UTC),
    }
    await sweep_store(request).create(row)
    await client.start_workflow(
        SWEEP_WORKFLOW,
        SweepInput(
            sweep_id=sweep_id,
            kind=body.kind,
            region_code=body.region_code,
            target=target,
            policy=policy.workflow,
            task_queue=settings.workflow_task_queue,
        ),
        id=sweep_workflow_id(sweep_id),
        task_queue=settings.workflow_task_queue,
    )
    return sweep_json({**row, "status": "selecting", "targeted": 0})


@router.get("")
async def list_sweeps(
    principal: CurrentPrincipal,
    request: Request,
    region: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    status: Annotated[str | None, Query(pattern="^(selecting|running|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Sweeps inside the caller's scope, newest first, each with its progress."""
    prefix = listing_region(principal, region)
    store, now = sweep_store(request), datetime.now(UTC)
    rows = await store.list(prefix, status, limit)
    return {"sweeps": [{**sweep_json(r), "progress": await store.progress(r["sweep_id"], now)} for r in rows]}


@router.get("/{sweep_id}")
async def get_sweep(sweep_id: str, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """One sweep with its progress: visits targeted, visited, due, overdue, escalated, risks reported."""
    store = sweep_store(request)
    row = await store.get(sweep_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"sweep {sweep_id} not found", ["path", "sweep_id"])
    return {**sweep_json(row), "progress": await store.progress(sweep_id, datetime.now(UTC))}
