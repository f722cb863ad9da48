"""Read API: a household's latest assessment and history, for case workers inside their region."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel
from sqlalchemy import select

from safetynet_core.db import Database
from safetynet_core.errors import ApiError
from safetynet_core.web import CurrentPrincipal
from safetynet_risk.tables import assessments

router = APIRouter(tags=["risk"])
HISTORY_LIMIT = 200


class ReasonOut(BaseModel):
    rule: str
    points: float
    reason_zh: str
    reason_en: str


class AssessmentOut(BaseModel):
    assessment_id: str
    category: Literal["unstable_lifted", "marginal", "sudden_hardship"] | None
    level: Literal["none", "low", "medium", "high", "critical"] | str
    score: float
    risk_types: list[str]
    warnings: list[str]
    reasons: list[ReasonOut]
    opens_case: bool
    policy_version: str
    event_ids: list[str]
    assessed_at: datetime


class HouseholdRiskOut(BaseModel):
    household_id: str
    latest: AssessmentOut
    history: list[AssessmentOut]


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


Db = Annotated[Database, Depends(database)]


@router.get("/v1/households/{household_id}/risk", response_model=HouseholdRiskOut)
async def household_risk(
    household_id: Annotated[str, Path(min_length=1, max_length=64)],
    principal: CurrentPrincipal,
    db: Db,
) -> dict[str, Any]:
    """The latest assessment with its reasons and the history, newest first; 404 outside your region."""
    query = (
        select(assessments)
        .where(assessments.c.household_id == household_id)
        .order_by(assessments.c.assessed_at.desc(), assessments.c.fact_seq.desc())
        .limit(HISTORY_LIMIT)
    )
    async with db.sessions() as session:
        rows = [dict(row._mapping) for row in await session.execute(query)]
    if not rows or not principal.can_see(rows[0]["region_code"]):
        raise ApiError(404, f"no risk assessment for household {household_id}", ["path", "household_id"])
    history = [AssessmentOut.model_validate(row).model_dump(mode="json") for row in rows]
    return {"household_id": household_id, "latest": history[0], "history": history}
