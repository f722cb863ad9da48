"""GET /v1/cases/{case_id}/audit: a case's audit log, for callers who may see the case."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import select

from safetynet_core.web import CurrentPrincipal
from safetynet_workflow.api import _case_for
from safetynet_workflow.audit import AUDIT_FIELDS, audit_log
from safetynet_workflow.deps import StoreDep

router = APIRouter(prefix="/v1", tags=["cases"])


@router.get("/cases/{case_id}/audit")
async def case_audit(case_id: str, principal: CurrentPrincipal, store: StoreDep) -> dict[str, Any]:
    """Every recorded state change of a case, oldest first: action, actor, case status and step, time."""
    await _case_for(principal, store, case_id)
    query = select(audit_log).where(audit_log.c.case_id == case_id).order_by(audit_log.c.audit_id)
    async with store.db.engine.connect() as conn:
        rows = [dict(r._mapping) for r in await conn.execute(query)]
    return {"case_id": case_id, "audit": [{k: row[k] for k in AUDIT_FIELDS} for row in rows]}
