"""Case events on the case-events topic (protobuf safetynet.v1.CaseEvent), keyed by household id."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from safetynet_core.contracts import SCHEMA_VERSION, CaseEventMessage, to_struct, to_timestamp
from safetynet_core.kafka import RenewingProducer
from safetynet_workflow.metrics import EVENTS_PUBLISHED
from safetynet_workflow.projection.models import Change, Entry, TaskState

# Names of regions by code (the region directory's labels), for the events' `region_label` details.
RegionLabels = Callable[[Iterable[str]], Awaitable[dict[str, str]]]


def case_event(
    change: Change, entry: Entry, task: TaskState | None, labels: Mapping[str, str] | None = None
) -> CaseEventMessage:
    """One timeline entry as the CaseEvent notify consumes (event_key is the dedupe key). With `labels`, its
    details name the case's region (`region_label`) and the task's (`task_region_label`)."""
    message = CaseEventMessage(
        schema_version=SCHEMA_VERSION,
        event_key=entry.key,
        name=entry.name,
        case_id=change.case_id,
        household_id=change.household_id,
        region_code=change.region_code,
        step=change.step,
        status=change.status,
        close_reason=change.close_reason or "",
    )
    message.occurred_at.CopyFrom(to_timestamp(entry.at))
    details = dict(entry.details)
    if labels is not None:
        details["region_label"] = labels.get(change.region_code, change.region_code)
        if task is not None:
            details["task_region_label"] = labels.get(task.region_code, task.region_code)
    message.details.CopyFrom(to_struct(details))
    if task is not None:
        ref = message.task
        ref.task_id, ref.kind, ref.role, ref.region_code = (
            task.task_id,
            task.kind,
            task.role,
            task.region_code,
        )
        ref.assignee, ref.escalation_level, ref.department = (
            task.assignee or "",
            task.escalation_level,
            task.department or "",
        )
        ref.due_at.CopyFrom(to_timestamp(task.due_at))
    return message


async def publish(
    producer: RenewingProducer, topic: str, change: Change, labels: Mapping[str, str] | None = None
) -> None:
    """Publish the change's public entries, in order, and wait for the broker's acks (at least once: a
    failed or timed-out publish fails the activity, whose retry goes through a fresh producer)."""
    tasks = {t.task_id: t for t in change.tasks}
    key = change.household_id.encode()
    published = [entry for entry in change.entries if entry.publish]
    await producer.send_keyed(
        (topic, key, case_event(change, entry, tasks.get(entry.task_id or ""), labels).SerializeToString())
        for entry in published
    )
    for entry in published:
        EVENTS_PUBLISHED.labels(entry.name).inc()
