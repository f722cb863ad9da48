"""Launching and reading sweeps (the sweep API and pages both call these)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from safetynet_core.auth import Principal
from safetynet_core.errors import ApiError
from safetynet_core.policy.fieldops import SweepKind, TargetGroup
from safetynet_core.vocabulary import REGION_CODE_PATTERN
from safetynet_core.web import require_in_scope, require_role
from safetynet_workflow.starter import Starter
from safetynet_workflow.sweeps.models import SWEEP_WORKFLOW, SweepInput, sweep_workflow_id
from safetynet_workflow.sweeps.store import SweepStore, sweep_json


class SweepLaunch(BaseModel):
    """A sweep over a county, township or village; `target` defaults to the policy's must-visit groups."""

    model_config = ConfigDict(extra="forbid")

    kind: SweepKind
    region_code: str = Field(pattern=REGION_CODE_PATTERN, description="county (6), township (9) or village (12) code")
    title: str = Field("", max_length=200)
    target: list[TargetGroup] | None = Field(None, min_length=1, max_length=50)


async def launch(principal: Principal, body: SweepLaunch, store: SweepStore, starter: Starter) -> dict[str, Any]:
    """Launch a sweep: each targeted household gets a `sweep_visit` task for its grid worker."""
    policy = starter.policy
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
    await store.create(row)
    await starter.start(
        SWEEP_WORKFLOW,
        SweepInput(
            sweep_id=sweep_id,
            kind=body.kind,
            region_code=body.region_code,
            target=target,
            policy=policy.workflow,
            task_queue=starter.task_queue,
        ),
        workflow_id=sweep_workflow_id(sweep_id),
    )
    return sweep_json({**row, "status": "selecting", "targeted": 0})


async def sweeps_in(store: SweepStore, prefix: str, status: str | None, limit: int) -> list[dict[str, Any]]:
    """Sweeps under a region prefix, newest first, each with its progress."""
    now = datetime.now(UTC)
    rows = await store.list(prefix, status, limit)
    return [{**sweep_json(r), "progress": await store.progress(r["sweep_id"], now)} for r in rows]


async def sweep(principal: Principal, store: SweepStore, sweep_id: str) -> dict[str, Any]:
    """One sweep with its progress; 404 outside the caller's scope."""
    row = await store.get(sweep_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"sweep {sweep_id} not found", ["path", "sweep_id"])
    return {**sweep_json(row), "progress": await store.progress(sweep_id, datetime.now(UTC))}
