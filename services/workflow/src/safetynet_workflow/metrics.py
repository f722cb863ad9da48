"""Prometheus metrics of the workflow service (safetynet_workflow_*).

Counters and histograms move when the projection first records an entry (retries never double count,
`projection/activities.py`); the gauges are refreshed from the projection by a background loop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

DAY_BUCKETS = (0.25, 0.5, 1, 2, 3, 5, 7, 10, 15, 20, 30, 60, 120, 240)

CASES = Gauge("safetynet_workflow_cases", "Cases by step and status (projection)", ["step", "status"])
TASKS_OPEN = Gauge("safetynet_workflow_tasks_open", "Open tasks by kind and escalation level", ["kind", "level"])
TASKS_OVERDUE = Gauge("safetynet_workflow_tasks_overdue", "Overdue open tasks by kind and level", ["kind", "level"])
ESCALATIONS = Counter("safetynet_workflow_escalations_total", "Task escalations", ["to_level"])
REMINDERS = Counter("safetynet_workflow_reminders_total", "Task reminders sent")
IDENTIFICATION = Histogram(
    "safetynet_workflow_identification_days", "First lead to identification decision", buckets=DAY_BUCKETS
)
TIME_IN_STEP = Histogram(
    "safetynet_workflow_time_in_step_days", "Time a case spent in a step", ["step"], buckets=DAY_BUCKETS
)
BREACHES = Counter("safetynet_workflow_identification_breaches_total", "Cases past the identification limit")
OPENED = Counter("safetynet_workflow_cases_opened_total", "Cases opened (or reopened)")
CLOSED = Counter("safetynet_workflow_cases_closed_total", "Cases closed by reason", ["reason"])
ASSESSMENTS = Counter("safetynet_workflow_assessments_total", "Risk assessments consumed", ["outcome"])
EVENTS_PUBLISHED = Counter("safetynet_workflow_case_events_published_total", "Case events published", ["name"])


def refresh_gauges(snapshot: dict[str, list[tuple[Any, ...]]], _: datetime | None = None) -> None:
    """Replace the gauges with the projection's current counts."""
    CASES.clear()
    TASKS_OPEN.clear()
    TASKS_OVERDUE.clear()
    for step, status, count in snapshot["cases"]:
        CASES.labels(step, status).set(count)
    for kind, level, count, overdue in snapshot["tasks"]:
        TASKS_OPEN.labels(kind, level).set(count)
        TASKS_OVERDUE.labels(kind, level).set(overdue)
