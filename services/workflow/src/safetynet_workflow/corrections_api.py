"""Correction API (/v1/corrections), its rows and its activities: case workers file corrections of
households in their region; reviewers act on the `correction_review` / `correction_approval` tasks
through the task API like any other task."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy import insert, select, update
from temporalio import activity

from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_core.policy import cached_policy
from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.corrections import (
    APPLY_CORRECTION_ACTIVITY,
    CORRECTION_STATUS_ACTIVITY,
    CORRECTION_WORKFLOW,
    ApplyRequest,
    CorrectionInput,
    CorrectionRequest,
    CorrectionStatus,
    StatusChange,
)
from safetynet_workflow.deps import ClientDep, SettingsDep
from safetynet_workflow.fieldops_tables import corrections, region_listing
from safetynet_workflow.intake_client import IntakeClient, IntakeRejected
from safetynet_workflow.reports.tables import report_households
from safetynet_workflow.sweeps_api import require_role
from safetynet_workflow.tables import tasks

router = APIRouter(prefix="/v1/corrections", tags=["corrections"])
FILER_ROLES = ["grid_worker", "village_cadre", "township_officer", "county_officer"]
FINAL = {CorrectionStatus.REJECTED, CorrectionStatus.APPLIED, CorrectionStatus.FAILED}


class CorrectionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def household_region(self, household_id: str) -> str | None:
        query = select(report_households.c.region_code).where(report_households.c.household_id == household_id)
        async with self.db.engine.connect() as conn:
            return (await conn.execute(query)).scalar_one_or_none()

    async def create(self, row: dict[str, Any]) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(insert(corrections).values(**row))

    async def set_status(self, change: StatusChange) -> None:
        values: dict[str, Any] = {"status": change.status.value, "outcome": change.outcome}
        if change.status in FINAL:
            values["decided_at"] = change.at or datetime.now(UTC)
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(corrections).where(corrections.c.correction_id == change.correction_id).values(**values)
            )

    async def list(self, prefix: str, status: str | None, household_id: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(
            select(corrections), corrections, prefix, limit, status=status, household_id=household_id
        )
        async with self.db.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, correction_id: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (
                (await conn.execute(select(corrections).where(corrections.c.correction_id == correction_id)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            steps = await conn.execute(
                select(
                    tasks.c.task_id,
                    tasks.c.kind,
                    tasks.c.status,
                    tasks.c.role,
                    tasks.c.due_at,
                    tasks.c.completed_by,
                    tasks.c.form,
                )
                .where(tasks.c.case_id == correction_id)
                .order_by(tasks.c.created_at)
            )
            return {**dict(row), "tasks": [dict(t) for t in steps.mappings()]}


class CorrectionActivities:
    def __init__(self, store: CorrectionStore, intake: IntakeClient) -> None:
        self.store = store
        self.intake = intake

    @activity.defn(name=APPLY_CORRECTION_ACTIVITY)
    async def apply(self, request: ApplyRequest) -> dict[str, Any]:
        """PATCH the registry through intake; a refusal (4xx) is an outcome, not a retry."""
        try:
            result = await self.intake.correct_household(
                request.household_id, {**request.patch, "reference": request.correction_id}
            )
        except IntakeRejected as exc:
            return {"ok": False, "error": exc.message, "details": list(exc.details)}
        return {"ok": True, "intake_status": result.get("status")}

    @activity.defn(name=CORRECTION_STATUS_ACTIVITY)
    async def set_status(self, change: StatusChange) -> None:
        await self.store.set_status(change)

    def all(self) -> list[Any]:
        return [self.apply, self.set_status]


def correction_store(request: Request) -> CorrectionStore:
    return CorrectionStore(request.app.state.db)


@router.post("", status_code=202)
async def file_correction(
    body: CorrectionRequest, principal: CurrentPrincipal, request: Request, client: ClientDep, settings: SettingsDep
) -> dict[str, Any]:
    """File a correction of a household in your region; it goes to township review, then county approval."""
    require_role(principal, FILER_ROLES, "file corrections")
    store = correction_store(request)
    region = await store.household_region(body.household_id)
    if region is None or not principal.can_see(region):
        raise ApiError(404, f"no registered household {body.household_id} in your region", ["body", "household_id"])
    correction_id = f"R{uuid.uuid4().hex[:20]}"
    row = {
        "correction_id": correction_id,
        "household_id": body.household_id,
        "region_code": region,
        "field": body.field.value,
        "member_id": body.member_id,
        "value": body.value,
        "reason": body.reason,
        "evidence": [e.model_dump() for e in body.evidence],
        "status": CorrectionStatus.UNDER_REVIEW.value,
        "filed_by": principal.subject,
        "created_at": datetime.now(UTC),
    }
    await store.create(row)
    policy = cached_policy(str(settings.policy_file))
    await client.start_workflow(
        CORRECTION_WORKFLOW,
        CorrectionInput(
            correction_id=correction_id,
            household_id=body.household_id,
            region_code=region,
            patch=body.patch(),
            policy=policy.workflow,
        ),
        id=f"correction-{correction_id}",
        task_queue=settings.workflow_task_queue,
    )
    return {**row, "outcome": {}, "decided_at": None}


@router.get("")
async def list_corrections(
    principal: CurrentPrincipal,
    request: Request,
    region: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(s.value for s in CorrectionStatus) + ")$")] = None,
    household_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    prefix = listing_region(principal, region)
    return {"corrections": await correction_store(request).list(prefix, status, household_id, limit)}


@router.get("/{correction_id}")
async def get_correction(correction_id: str, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    """One correction with its review and approval tasks."""
    row = await correction_store(request).get(correction_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"correction {correction_id} not found", ["path", "correction_id"])
    return row
