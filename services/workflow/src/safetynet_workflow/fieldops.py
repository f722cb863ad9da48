"""Field operations wired into the service: their workflows, activities and routers (grids, sweeps,
registry corrections, the rectification ledger)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from safetynet_core.db import Database
from safetynet_workflow.corrections import CorrectionWorkflow
from safetynet_workflow.corrections_api import CorrectionActivities, CorrectionStore
from safetynet_workflow.corrections_api import router as corrections_router
from safetynet_workflow.intake_client import IntakeClient
from safetynet_workflow.ledger import LedgerItemWorkflow
from safetynet_workflow.ledger_api import LedgerActivities, LedgerStore
from safetynet_workflow.ledger_api import router as ledger_router
from safetynet_workflow.settings import Settings
from safetynet_workflow.sweeps import SWEEP_WORKFLOWS
from safetynet_workflow.sweeps_api import router as sweeps_router
from safetynet_workflow.sweeps_store import SweepActivities, SweepStore

FIELD_OPS_WORKFLOWS: list[type] = [*SWEEP_WORKFLOWS, CorrectionWorkflow, LedgerItemWorkflow]
FIELD_OPS_ROUTERS: list[APIRouter] = [sweeps_router, corrections_router, ledger_router]


class FieldOpsActivities:
    """Every field-operations activity, sharing one intake client (close it on shutdown)."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.intake = IntakeClient(settings)
        self.sweeps = SweepActivities(settings, SweepStore(db), self.intake)
        self.corrections = CorrectionActivities(CorrectionStore(db), self.intake)
        self.ledger = LedgerActivities(LedgerStore(db))

    def all(self) -> list[Any]:
        return [*self.sweeps.all(), *self.corrections.all(), *self.ledger.all()]

    async def close(self) -> None:
        await self.intake.close()
