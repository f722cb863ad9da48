"""Risk service settings (environment, fail fast)."""

from pydantic import Field

from safetynet_core.settings import CoreSettings


class Settings(CoreSettings):
    service_name: str = "risk"
    consumer_group: str = "risk"
    consumer_enabled: bool = True  # both consumers: household events and case events
    # The case-events consumer (case_consumer.py): its own group, so every risk replica's share of households
    # learns their openings and closures.
    case_consumer_group: str = "risk-cases"
    case_consume_batch: int = Field(500, ge=1, le=10_000)
    consume_batch: int = Field(1000, ge=1, le=20_000)
    consume_timeout_ms: int = Field(500, ge=10)
    # Under a backlog (records already fetched), one database transaction takes up to this many records from
    # several `getmany` batches, so a household is scored once per transaction; a quiet topic still gets
    # small, prompt transactions.
    max_transaction_records: int = Field(50_000, ge=1)
    # ... and stops taking more once it holds this many households: a running transaction keeps each of its
    # households in memory with all their facts, assessments and reasons (25-40 KB a household at the
    # 10^6-event burst's scale), so this bounds a risk process's memory under a backlog of many households.
    max_transaction_households: int = Field(10_000, ge=1)
    # Households (registry, stored facts) kept in memory between transactions, and the facts they may hold in
    # all: about 750 bytes a cached fact and 1.5 KB a household (tracemalloc on B3's events), so the defaults
    # keep the cache under 200 MiB. (A transaction's own households, with all their facts, are in memory too
    # while it runs, whatever these bounds.) 0 households turns the cache off.
    household_cache_size: int = Field(20_000, ge=0)
    household_cache_facts: int = Field(200_000, ge=0)
    # The cyclic garbage collector's young-generation threshold while the consumer runs (0: Python's own),
    # and whether it pauses during a transaction.
    gc_young_threshold: int = Field(50_000, ge=0)
    pause_gc_in_transactions: bool = True
    # A publish not acknowledged in this long fails the consumer, which restarts with a fresh producer
    # (an idempotent aiokafka producer can wait forever after the broker restarted).
    publish_timeout_seconds: float = Field(30.0, gt=0)
