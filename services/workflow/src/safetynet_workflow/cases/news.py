"""What the household directory learns reaches the household's open case: new registry facts (a registry
record, an approved correction), a member's death (a one-person household's case is proposed for a natural
close) and a department's answer on a measure (`measure_update`). Households without an open case are left
alone."""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from safetynet_core.logging import get_logger
from safetynet_workflow.cases.models import DeathReported, HouseholdFacts, MeasureAcknowledged
from safetynet_workflow.cases.store import CaseStore
from safetynet_workflow.reports.consumer import Rows

log = get_logger(__name__)


class CaseNews:
    """The reports consumer's `on_households` hook: signals the open cases of the batch's households."""

    def __init__(self, store: CaseStore, client: Client) -> None:
        self.store = store
        self.client = client

    async def __call__(self, rows: Rows) -> None:
        household_ids = sorted({*rows.households, *(d["household_id"] for d in rows.deaths)})
        open_cases = await self.store.open_workflows(household_ids)
        by_case = await self.store.open_workflows_of_cases(sorted({u["case_id"] for u in rows.measure_updates}))
        signals: list[tuple[str, str, Any]] = []
        for household_id, row in rows.households.items():
            facts = HouseholdFacts.of(household_id, row)
            if household_id in open_cases and facts is not None:
                signals.append((open_cases[household_id], "update_household", facts))
        for death in rows.deaths:
            if death["household_id"] in open_cases:
                reported = DeathReported(
                    event_id=death["event_id"], member_id=death["member_id"], occurred_at=death["occurred_at"]
                )
                signals.append((open_cases[death["household_id"]], "report_death", reported))
        for update in rows.measure_updates:
            if update["case_id"] in by_case:
                signals.append((by_case[update["case_id"]], "acknowledge_measure", MeasureAcknowledged(**update)))
        await asyncio.gather(*(self._signal(*signal) for signal in signals))

    async def _signal(self, workflow_id: str, name: str, arg: Any) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).signal(name, arg)
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:  # closed meanwhile: nothing to tell
                raise
            log.info("case_news_case_gone", workflow_id=workflow_id, signal=name)
