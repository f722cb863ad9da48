"""Ledger API (/v1/ledger), its rows and activities: findings are entered (audits, reports) or arrive
from failed inspections; the ledger shows each item with its owner task's deadline, overdue flag and
escalation level until it is closed with evidence."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, and_, select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import WorkflowAlreadyStartedError

from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_core.policy import cached_policy
from safetynet_core.web import CurrentPrincipal, listing_region
from safetynet_workflow.deps import ClientDep, SettingsDep
from safetynet_workflow.fieldops_tables import ledger_items, region_listing
from safetynet_workflow.ledger import CLOSE_LEDGER_ACTIVITY, OPEN_LEDGER_ACTIVITY, LedgerClose
from safetynet_workflow.models import LEDGER_ITEM_WORKFLOW, LedgerInput, ReopenRequest, ledger_workflow_id
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps_api import REGION_PATTERN, require_in_scope, require_role
from safetynet_workflow.tables import tasks

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])
RECORDER_ROLES = ["auditor", "county_officer", "township_officer"]


class Finding(BaseModel):
    """A problem found by an audit or reported; inspection findings arrive on their own."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["audit", "report"]
    source_ref: str = Field(min_length=1, max_length=150, description="the audit or report's own reference")
    region_code: str = Field(pattern=REGION_PATTERN)
    problem: str = Field(min_length=1, max_length=4000)
    household_id: str | None = Field(None, min_length=1, max_length=64)


class LedgerStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def open(self, inp: LedgerInput) -> None:
        row = {
            "item_id": inp.item_id,
            "source": inp.source,
            "source_ref": inp.source_ref,
            "household_id": inp.household_id,
            "region_code": inp.region_code,
            "problem": inp.problem,
            "status": "open",
            "created_by": inp.created_by,
            "created_at": datetime.now(UTC),
        }
        async with self.db.engine.begin() as conn:
            await conn.execute(insert(ledger_items).values(**row).on_conflict_do_nothing())

    async def close(self, change: LedgerClose) -> None:
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(ledger_items)
                .where(ledger_items.c.item_id == change.item_id)
                .values(status="closed", closed_at=change.at, evidence=change.evidence)
            )

    @staticmethod
    def _items() -> Select[Any]:
        owner = tasks.alias("owner")
        return select(
            ledger_items,
            owner.c.task_id,
            owner.c.role.label("owner_role"),
            owner.c.region_code.label("owner_region"),
            owner.c.status.label("task_status"),
            owner.c.assignee,
            owner.c.due_at,
            owner.c.overdue,
            owner.c.escalation_level,
        ).select_from(ledger_items.outerjoin(owner, and_(owner.c.case_id == ledger_items.c.item_id)))

    async def list(self, prefix: str, status: str | None, source: str | None, limit: int) -> list[dict[str, Any]]:
        query = region_listing(self._items(), ledger_items, prefix, limit, status=status, source=source)
        async with self.db.engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings()]

    async def get(self, item_id: str) -> dict[str, Any] | None:
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(self._items().where(ledger_items.c.item_id == item_id))).mappings().first()
        return dict(row) if row else None


class LedgerActivities:
    def __init__(self, store: LedgerStore) -> None:
        self.store = store

    @activity.defn(name=OPEN_LEDGER_ACTIVITY)
    async def open_item(self, inp: LedgerInput) -> None:
        await self.store.open(inp)

    @activity.defn(name=CLOSE_LEDGER_ACTIVITY)
    async def close_item(self, change: LedgerClose) -> None:
        await self.store.close(change)

    def all(self) -> list[Any]:
        return [self.open_item, self.close_item]


async def record_inspection_finding(client: Client, settings: Settings, request: ReopenRequest) -> None:
    """A failed sampling inspection is a finding: a ledger item owned per policy (once per inspection)."""
    policy = cached_policy(str(settings.policy_file))
    if not policy.workflow.ledger.from_failed_inspections:
        return
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            LEDGER_ITEM_WORKFLOW,
            LedgerInput(
                item_id=f"L{request.inspection_task_id}"[:64],
                source="inspection",
                source_ref=request.inspection_task_id,
                region_code=request.region_code,
                household_id=request.household_id,
                problem=request.findings or "sampling inspection failed",
                policy=policy.workflow,
            ),
            id=ledger_workflow_id("inspection", request.inspection_task_id),
            task_queue=settings.workflow_task_queue,
        )


def ledger_store(request: Request) -> LedgerStore:
    return LedgerStore(request.app.state.db)


@router.post("", status_code=202)
async def record_finding(
    body: Finding, principal: CurrentPrincipal, client: ClientDep, settings: SettingsDep
) -> dict[str, Any]:
    """Enter an audit or report finding: a ledger item with a rectification task for its owner."""
    require_role(principal, RECORDER_ROLES, "record findings")
    require_in_scope(principal, body.region_code, ["body", "region_code"])
    policy = cached_policy(str(settings.policy_file))
    item_id = f"L{uuid.uuid4().hex[:20]}"
    try:
        await client.start_workflow(
            LEDGER_ITEM_WORKFLOW,
            LedgerInput(item_id=item_id, created_by=principal.subject, policy=policy.workflow, **body.model_dump()),
            id=ledger_workflow_id(body.source, body.source_ref),
            task_queue=settings.workflow_task_queue,
        )
    except WorkflowAlreadyStartedError as exc:
        raise ApiError(
            409, f"{body.source} {body.source_ref} is already in the ledger", ["body", "source_ref"]
        ) from exc
    return {"item_id": item_id, "status": "open", **body.model_dump()}


@router.get("")
async def list_ledger(
    principal: CurrentPrincipal,
    request: Request,
    region: Annotated[str | None, Query(pattern=r"^\d{2,12}$")] = None,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    source: Annotated[str | None, Query(pattern="^(inspection|audit|report)$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """Ledger items in the caller's scope with their owner task: deadline, overdue, escalation level."""
    prefix = listing_region(principal, region)
    return {"items": await ledger_store(request).list(prefix, status, source, limit)}


@router.get("/{item_id}")
async def get_ledger_item(item_id: str, principal: CurrentPrincipal, request: Request) -> dict[str, Any]:
    row = await ledger_store(request).get(item_id)
    if row is None or not principal.can_see(row["region_code"]):
        raise ApiError(404, f"ledger item {item_id} not found", ["path", "item_id"])
    return row
