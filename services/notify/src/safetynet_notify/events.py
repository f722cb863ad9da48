"""Case events as notify sees them: decoded from protobuf, validated, stripped of anything sensitive."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from safetynet_core import contracts
from safetynet_core.masking import mask_text
from safetynet_core.vocabulary import TASK_EVENTS, CaseEventName

EVENT_NAMES = frozenset(CaseEventName)
# Keys never copied out of `details`: identity documents, birth dates, contact data, bank and health details.
_SENSITIVE_KEY = re.compile(
    r"id_?number|id_?card|identity|birth|phone|mobile|bank|account|diagnos|health|illness|disease|medical|"
    r"hospital|disabilit|name|address|members?$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TaskInfo:
    task_id: str
    kind: str
    role: str
    region_code: str
    assignee: str | None
    due_at: datetime | None
    escalation_level: int
    department: str | None


@dataclass(frozen=True)
class CaseEvent:
    event_key: str
    name: str
    case_id: str
    household_id: str
    region_code: str
    step: str
    status: str
    occurred_at: datetime
    close_reason: str
    task: TaskInfo | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def escalation_level(self) -> int:
        return self.task.escalation_level if self.task else 0

    @property
    def task_region(self) -> str:
        return (self.task.region_code if self.task and self.task.region_code else "") or self.region_code


def sanitize(value: Any) -> Any:
    """Drop sensitive keys and mask ID numbers and phones in text, recursively."""
    if isinstance(value, dict):
        return {k: sanitize(v) for k, v in value.items() if not _SENSITIVE_KEY.search(str(k))}
    if isinstance(value, list):
        return [sanitize(v) for v in value]
    if isinstance(value, str):
        return mask_text(value)
    return value


def decode(raw: bytes | None) -> CaseEvent:
    """Parse and validate one record value; raises PoisonRecord."""
    if not raw:
        raise contracts.PoisonRecord("undecodable", "empty record")
    msg = contracts.parse_record(contracts.CaseEventMessage, raw)
    if not msg.name.startswith(contracts.CASE_EVENT_PREFIXES):
        raise contracts.PoisonRecord("unknown_type", f"unknown case event {msg.name[:60]!r}")
    missing = [f for f in ("event_key", "name", "case_id", "region_code") if not getattr(msg, f)]
    if missing:
        raise contracts.PoisonRecord("invalid", f"missing fields: {', '.join(missing)}")
    if not msg.HasField("occurred_at"):
        raise contracts.PoisonRecord("invalid", "missing fields: occurred_at")
    task: TaskInfo | None = None
    if msg.HasField("task"):
        t = msg.task
        task = TaskInfo(
            task_id=t.task_id,
            kind=t.kind,
            role=t.role,
            region_code=t.region_code or msg.region_code,
            assignee=t.assignee or None,
            due_at=contracts.from_timestamp(t.due_at) if t.HasField("due_at") else None,
            escalation_level=t.escalation_level,
            department=t.department or None,
        )
    elif msg.name in TASK_EVENTS:
        raise contracts.PoisonRecord("invalid", f"{msg.name} without a task")
    return CaseEvent(
        event_key=msg.event_key,
        name=msg.name,
        case_id=msg.case_id,
        household_id=msg.household_id,
        region_code=msg.region_code,
        step=msg.step,
        status=msg.status,
        occurred_at=contracts.from_timestamp(msg.occurred_at),
        close_reason=msg.close_reason,
        task=task,
        details=sanitize(contracts.from_struct(msg.details)) if msg.HasField("details") else {},
    )


class MessageText(BaseModel):
    subject: str
    body: str


class CaseEventDelivery(BaseModel):
    """What a webhook subscriber receives for a case event: the event without personal data, the case's
    link, and the rendered message in each locale."""

    event_key: str = Field(description="unique per state change: deduplicate on it")
    event: str = Field(description="the event name, also in the X-SafetyNet-Event header")
    case_id: str
    household_id: str
    region_code: str
    step: str | None
    status: str | None
    close_reason: str | None
    occurred_at: datetime
    link: str = Field(description="the case page in the case-worker UI")
    task: TaskInfo | None
    details: dict[str, Any]
    message: dict[str, MessageText] = Field(default_factory=dict, description="subject and body by locale")


def webhook_payload(event: CaseEvent, link: str, message: dict[str, MessageText] | None = None) -> dict[str, Any]:
    """The JSON a subscriber receives: the event without PII, plus the case link."""
    delivery = CaseEventDelivery(
        event_key=event.event_key,
        event=event.name,
        case_id=event.case_id,
        household_id=event.household_id,
        region_code=event.region_code,
        step=event.step or None,
        status=event.status or None,
        close_reason=event.close_reason or None,
        occurred_at=event.occurred_at,
        link=link,
        task=event.task,
        details=event.details,
        message=message or {},
    )
    return delivery.model_dump(mode="json")
