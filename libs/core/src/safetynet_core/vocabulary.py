"""The case vocabulary every service shares (CONTRACT.md): the five steps and the case statuses, close
reasons, the names of case events on the case-events topic, and notification channels."""

from __future__ import annotations

from enum import StrEnum

# A county (6 digits), township (9) or village (12) code.
REGION_CODE_PATTERN = r"^\d{6}(\d{3}){0,2}$"


# The guarantees recorded on every home visit and review: 两不愁三保障 (food, clothing, compulsory
# education, basic medical care, safe housing) and safe drinking water.
GUARANTEES = ("food", "clothing", "compulsory_education", "basic_medical", "housing", "drinking_water")


class Step(StrEnum):
    SCREEN = "screen"
    VERIFY = "verify"
    ASSIST = "assist"
    EVALUATE = "evaluate"
    CLOSE = "close"


class CaseStatus(StrEnum):
    SCREENING = "screening"
    VERIFYING = "verifying"
    ASSISTING = "assisting"
    EVALUATING = "evaluating"
    CLOSED = "closed"


STATUS_OF_STEP = {
    Step.SCREEN: CaseStatus.SCREENING,
    Step.VERIFY: CaseStatus.VERIFYING,
    Step.ASSIST: CaseStatus.ASSISTING,
    Step.EVALUATE: CaseStatus.EVALUATING,
    Step.CLOSE: CaseStatus.CLOSED,
}


class CloseReason(StrEnum):
    RISK_ELIMINATED = "risk_eliminated"
    NOT_ELIGIBLE = "not_eligible"
    NATURAL = "natural"
    DUPLICATE = "duplicate"
    DISMISSED = "dismissed"


class CaseEventName(StrEnum):
    """Timeline entries published on the case-events topic (the ones notify and subscribers see)."""

    CASE_OPENED = "case.opened"
    CASE_STEP_CHANGED = "case.step_changed"
    CASE_CLOSED = "case.closed"
    TASK_ASSIGNED = "task.assigned"
    TASK_REMINDER = "task.reminder"
    TASK_OVERDUE = "task.overdue"
    TASK_ESCALATED = "task.escalated"
    NOTICE_PUBLISHED = "notice.published"


TASK_EVENTS = frozenset(
    {CaseEventName.TASK_ASSIGNED, CaseEventName.TASK_REMINDER, CaseEventName.TASK_OVERDUE, CaseEventName.TASK_ESCALATED}
)
STEP_EVENTS = frozenset({CaseEventName.CASE_OPENED, CaseEventName.CASE_STEP_CHANGED, CaseEventName.CASE_CLOSED})


class Channel(StrEnum):
    """How notify delivers a notification."""

    WEBHOOK = "webhook"
    EMAIL = "email"
    SMS = "sms"
