"""Grids (网格) in the workflow service: which grid a household is in (from the registry records on the
household-events topic, kept in `report_households`) and which grid a grid worker serves (a user
attribute). Village-level tasks are routed by the case workflow (see `TaskHost._route`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from safetynet_core.db import Database
from safetynet_workflow.reports.tables import report_households
from safetynet_workflow.tables import tasks, users


class GridDirectory:
    """Household → grid lookups for the assessment consumer."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def grids_of(self, household_ids: list[str]) -> dict[str, str]:
        query = select(report_households.c.household_id, report_households.c.grid_id).where(
            report_households.c.household_id.in_(household_ids), report_households.c.grid_id.is_not(None)
        )
        async with self.db.unit_of_work() as uow:
            return {r.household_id: r.grid_id for r in await uow.execute(query)}


def grid_worker_scope(username: str) -> Any:
    """The tasks a grid worker sees: grid-routed tasks of the grid their user record names."""
    their_grid = select(users.c.grid_id).where(users.c.username == username).scalar_subquery()
    return (tasks.c.role == "grid_worker") & (tasks.c.grid_id == their_grid)
