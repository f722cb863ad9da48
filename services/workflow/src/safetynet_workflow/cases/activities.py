"""The case workflow's own activity: the household's registry facts when the case opened before the
household directory had them (the directory and the case are fed by two consumers of two topics)."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity

from safetynet_workflow.cases.models import HOUSEHOLD_FACTS_ACTIVITY, HouseholdFacts
from safetynet_workflow.reports.store import ReportStore

POLL_SECONDS = 0.5


class CaseActivities:
    def __init__(self, households: ReportStore, wait_seconds: float) -> None:
        self.households = households
        self.wait_seconds = wait_seconds

    @activity.defn(name=HOUSEHOLD_FACTS_ACTIVITY)
    async def household_facts(self, household_id: str) -> HouseholdFacts | None:
        """The household's facts from the directory, waiting a little for the registry record; None when
        it never came (the case then learns them from a later registry record)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            facts = HouseholdFacts.of(
                household_id, (await self.households.households_of([household_id])).get(household_id)
            )
            if facts is not None or time.monotonic() > deadline:
                return facts
            activity.heartbeat()
            await asyncio.sleep(POLL_SECONDS)
