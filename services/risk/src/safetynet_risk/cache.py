"""An in-process cache of households the consumer has scored: registry record, every stored fact (decoded
and prepared for the policy) and the highest fact seq, so a transaction fetches from the database only the
households it has not seen. Never the case state: another process may consume a household's case events.

It is sound because one consumer owns a household's partition (events are keyed by household id) and so
is the only writer of its rows; it is only ever filled with what a transaction wrote AFTER that
transaction committed (`apply`), and dropped whole whenever that ownership may have changed: partitions
assigned or revoked, a consumer (re)start, a batch that met a concurrent writer. A transaction that
started before a `clear` cannot fill it afterwards (the generation check)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass

from safetynet_risk.state import PreparedFact, RegistryRecord


@dataclass(frozen=True)
class CachedHousehold:
    registry: RegistryRecord
    events: tuple[PreparedFact, ...]  # every stored department event (not registry records), all assessed
    max_seq: int


class HouseholdCache:
    """LRU of CachedHousehold by household id, bounded in households and in the facts they hold."""

    def __init__(self, size: int, max_facts: int | None = None) -> None:
        self.size = size
        self.max_facts = max_facts if max_facts is not None else size * 20
        self.generation = 0
        self.facts = 0
        self._entries: OrderedDict[str, CachedHousehold] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, household_id: object) -> bool:
        return household_id in self._entries

    def get(self, household_id: str) -> CachedHousehold | None:
        entry = self._entries.get(household_id)
        if entry is not None:
            self._entries.move_to_end(household_id)
        return entry

    def clear(self) -> None:
        """Forget everything; updates computed by transactions that started before this are refused."""
        self._entries.clear()
        self.facts = 0
        self.generation += 1

    def apply(self, updates: Mapping[str, CachedHousehold], generation: int) -> bool:
        """Store what a committed transaction wrote, unless the cache was cleared since it started."""
        if generation != self.generation or self.size <= 0:
            return False
        entries = self._entries
        for household_id, entry in updates.items():
            if len(entry.events) > self.max_facts:
                continue
            previous = entries.get(household_id)
            if previous is not None:
                self.facts -= len(previous.events)
            entries[household_id] = entry
            entries.move_to_end(household_id)
            self.facts += len(entry.events)
        while len(entries) > self.size or self.facts > self.max_facts:
            _, evicted = entries.popitem(last=False)
            self.facts -= len(evicted.events)
        return True
