"""Intake's Prometheus metrics (request latency histograms come from the core middleware)."""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from safetynet_core.auth import Department
from safetynet_core.contracts import EventType
from safetynet_core.metrics import label_safe

DEPARTMENTS = frozenset(d.value for d in Department)
EVENT_TYPES = frozenset(t.value for t in EventType) | {"registry_record"}

EVENTS = Counter(
    "safetynet_intake_events_total",
    "Events and registry records received, by outcome (accepted, duplicate, rejected)",
    ["department", "type", "outcome"],
)
OUTBOX_BACKLOG = Gauge("safetynet_intake_outbox_backlog", "Outbox rows not yet published to Kafka")
OUTBOX_OLDEST_AGE = Gauge(
    "safetynet_intake_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox row (0 when empty)"
)
PUBLISHED = Counter("safetynet_intake_published_total", "Outbox rows published to Kafka")
PUBLISH_LATENCY = Histogram(
    "safetynet_intake_publish_latency_seconds",
    "From acceptance (outbox row created) to Kafka acknowledgement",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900),
)
WRITE_GROUP_SIZE = Histogram(
    "safetynet_intake_event_write_group_size",
    "Single-event posts written together by one group-commit statement",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
RELAY_FAILURES = Counter("safetynet_intake_relay_failures_total", "Relay batches that failed and will be retried")
STATUS_UPDATES = Counter(
    "safetynet_intake_status_updates_total", "Event status updates from downstream topics", ["source"]
)


def count_events(department: str, event_type: str, outcome: str, amount: int = 1) -> None:
    if amount:
        _events_series(department, event_type, outcome).inc(amount)


@functools.lru_cache(maxsize=1024)
def _events_series(department: str, event_type: str, outcome: str) -> Any:
    """The labelled counter, looked up once per label set (bounded: unknown values share `other`)."""
    return EVENTS.labels(label_safe(department, DEPARTMENTS), label_safe(event_type, EVENT_TYPES), outcome)
