"""Delivery timing rules: exponential backoff with jitter, SMS quiet hours and per-recipient rate limit."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


def backoff_seconds(
    attempt: int, base: float, cap: float, jitter: float, rand: Callable[[], float] = random.random
) -> float:
    """Delay before the next try after `attempt` failures: base·2^(attempt-1), capped, ± jitter fraction."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return max(0.0, delay * (1 - jitter + 2 * jitter * rand()))


def quiet_until(now: datetime, tz: ZoneInfo, start_hour: int, end_hour: int) -> datetime | None:
    """When quiet hours [start, end) local time hold `now`, the local end of them (as an aware datetime)."""
    local = now.astimezone(tz)
    hour = local.hour
    quiet = (
        (start_hour <= hour or hour < end_hour) if start_hour > end_hour else start_hour <= hour < end_hour
    )
    if not quiet:
        return None
    day = local.date() if hour < end_hour else local.date() + timedelta(days=1)
    return datetime.combine(day, time(end_hour), tzinfo=tz)


def rate_limited_until(now: datetime, recent_sends: Sequence[datetime], per_hour: int) -> datetime | None:
    """When `per_hour` sends already happened in the last hour, the moment the oldest of them ages out."""
    window = [t for t in recent_sends if t > now - timedelta(hours=1)]
    if len(window) < per_hour:
        return None
    window.sort()
    return window[len(window) - per_hour] + timedelta(hours=1)


def sms_hold_until(
    now: datetime,
    escalation_level: int,
    recent_sends: Sequence[datetime],
    *,
    tz: ZoneInfo,
    quiet_start: int,
    quiet_end: int,
    override_level: int,
    per_hour: int,
) -> datetime | None:
    """When an SMS must wait (quiet hours unless urgent, or the recipient's hourly limit), until when."""
    holds = [rate_limited_until(now, recent_sends, per_hour)]
    if escalation_level < override_level:
        holds.append(quiet_until(now, tz, quiet_start, quiet_end))
    waits = [h for h in holds if h is not None]
    return max(waits) if waits else None
