"""What risk knows of a household's case, from the case-events topic: whether one is open now (the
monitored-household thresholds apply only then) and when and why the last one closed (evidence older
than that closure opens no new case). Pure code: decoding a case event and folding it into the state.

Order-tolerant and idempotent: the state is the latest change by (occurred_at, a closure before an
opening of the same moment, case id), so a replayed or late `case.opened` never reopens what a later
`case.closed` ended, and any order of the same events gives the same state."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from safetynet_core.contracts import (
    SCHEMA_VERSION,
    CaseEventMessage,
    PoisonRecord,
    from_struct,
    from_timestamp,
    parse_record,
    to_struct,
    to_timestamp,
)
from safetynet_core.vocabulary import CaseEventName

CASE_CHANGES = frozenset({CaseEventName.CASE_OPENED.value, CaseEventName.CASE_CLOSED.value})


@dataclass(frozen=True, slots=True)
class CaseChange:
    """A case opened or closed (a decoded `case.opened` / `case.closed`)."""

    event_key: str
    household_id: str
    case_id: str
    closes: bool
    occurred_at: datetime
    close_reason: str = ""
    reopened: bool = False  # a closed case reopened (a failed inspection), not opened by an assessment

    @property
    def order(self) -> tuple[datetime, bool, str]:
        return self.occurred_at, self.closes, self.case_id


@dataclass(frozen=True, slots=True)
class CaseState:
    """A household's case as risk knows it: open or not, the case (open, or last closed), when that
    state began, and the last closure."""

    open: bool = False
    case_id: str | None = None
    changed_at: datetime | None = None
    closed_at: datetime | None = None
    close_reason: str | None = None
    closed_case_id: str | None = None

    @property
    def order(self) -> tuple[datetime, bool, str] | None:
        if self.changed_at is None:
            return None
        return self.changed_at, not self.open, self.case_id or ""


NO_CASE = CaseState()


def apply(state: CaseState, change: CaseChange) -> CaseState:
    """The state once `change` is known (whatever order the changes come in)."""
    if change.closes and (
        state.closed_at is None or (change.occurred_at, change.case_id) > (state.closed_at, state.closed_case_id or "")
    ):
        state = replace(
            state,
            closed_at=change.occurred_at,
            close_reason=change.close_reason or None,
            closed_case_id=change.case_id,
        )
    current = state.order
    if current is None or change.order > current:
        state = replace(state, open=not change.closes, case_id=change.case_id, changed_at=change.occurred_at)
    return state


def decode_case_event(value: bytes | None) -> CaseChange | None:
    """A case-events record as a CaseChange; None for the events risk does not follow (steps, tasks,
    notices); PoisonRecord when it is not a usable CaseEvent."""
    message = parse_record(CaseEventMessage, value)
    if message.name not in CASE_CHANGES:
        return None
    missing = [name for name in ("event_key", "case_id", "household_id") if not getattr(message, name)]
    if not message.HasField("occurred_at"):
        missing.append("occurred_at")
    if missing:
        raise PoisonRecord("invalid", f"{message.name} without {', '.join(missing)}")
    closes = message.name == CaseEventName.CASE_CLOSED
    details = from_struct(message.details) if message.HasField("details") else {}
    return CaseChange(
        event_key=message.event_key,
        household_id=message.household_id,
        case_id=message.case_id,
        closes=closes,
        occurred_at=from_timestamp(message.occurred_at),
        close_reason=message.close_reason if closes else "",
        reopened=not closes and details.get("reopened") is True,
    )


def case_event(
    name: str,
    case_id: str,
    household_id: str,
    occurred_at: datetime,
    *,
    event_key: str | None = None,
    close_reason: str = "",
    details: dict[str, Any] | None = None,
    region_code: str = "610327",
) -> bytes:
    """A CaseEvent as workflow publishes it (for tests and the bench)."""
    message = CaseEventMessage(
        schema_version=SCHEMA_VERSION,
        event_key=event_key or f"{case_id}:{name}:{occurred_at.isoformat()}",
        name=name,
        case_id=case_id,
        household_id=household_id,
        region_code=region_code,
        close_reason=close_reason,
    )
    message.occurred_at.CopyFrom(to_timestamp(occurred_at))
    if details:
        message.details.CopyFrom(to_struct(details))
    return message.SerializeToString()
