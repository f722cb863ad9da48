"""The ledger item workflow's activities: open and close the item's row."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from safetynet_workflow.ledger.models import CLOSE_LEDGER_ACTIVITY, OPEN_LEDGER_ACTIVITY, LedgerClose, LedgerInput
from safetynet_workflow.ledger.store import LedgerStore


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
