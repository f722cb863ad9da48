"""The projection activity every task-hosting workflow calls: write the change, then publish its public
entries on the case-events topic."""

from __future__ import annotations

from collections.abc import Iterable

from temporalio import activity

from safetynet_core import kafka
from safetynet_core.settings import CoreSettings
from safetynet_core.vocabulary import CaseEventName
from safetynet_workflow.activity_options import ACTIVITY_TIMEOUT
from safetynet_workflow.metrics import (
    BREACHES,
    CLOSED,
    ESCALATIONS,
    IDENTIFICATION,
    OPENED,
    REMINDERS,
    TIME_IN_STEP,
)
from safetynet_workflow.projection.events import RegionLabels, publish
from safetynet_workflow.projection.models import PROJECT_ACTIVITY, Change, Entry, TimelineName
from safetynet_workflow.projection.store import ProjectionStore


def case_event_producer(settings: CoreSettings) -> kafka.RenewingProducer:
    """The activities' producer: one not acknowledging within a third of the activity timeout is replaced
    before Temporal cancels the activity, so the retry publishes through a fresh one."""
    return kafka.RenewingProducer(
        lambda: kafka.make_producer(settings), ack_timeout=ACTIVITY_TIMEOUT.total_seconds() / 3
    )


def observe(entries: Iterable[Entry], close_reason: str | None) -> None:
    """Count what newly recorded timeline entries mean."""
    for entry in entries:
        details = entry.details
        if entry.name == CaseEventName.TASK_ESCALATED:
            ESCALATIONS.labels(details["to"]["level"]).inc()
        elif entry.name == CaseEventName.TASK_REMINDER:
            REMINDERS.inc()
        elif entry.name == TimelineName.IDENTIFIED:
            IDENTIFICATION.observe(float(details["days"]))
        elif entry.name == TimelineName.IDENTIFICATION_BREACHED:
            BREACHES.inc()
        elif entry.name == CaseEventName.CASE_OPENED:
            OPENED.inc()
        elif entry.name == CaseEventName.CASE_CLOSED:
            CLOSED.labels(close_reason or "unknown").inc()
        if "seconds_in_step" in details:
            TIME_IN_STEP.labels(details.get("from", "unknown")).observe(float(details["seconds_in_step"]) / 86400)


class ProjectionActivities:
    def __init__(
        self,
        store: ProjectionStore,
        producer: kafka.RenewingProducer,
        topic: str,
        region_labels: RegionLabels | None = None,
    ) -> None:
        self.store = store
        self.producer = producer
        self.topic = topic
        self.region_labels = region_labels

    @activity.defn(name=PROJECT_ACTIVITY)
    async def project(self, change: Change) -> None:
        """Upsert the projection (versioned, idempotent), then publish the public entries (naming their
        regions, so notifications show names)."""
        new = await self.store.apply(change)
        observe(new, change.close_reason)
        labels = None
        if self.region_labels is not None and any(entry.publish for entry in change.entries):
            labels = await self.region_labels([change.region_code, *(t.region_code for t in change.tasks)])
        await publish(self.producer, self.topic, change, labels)
