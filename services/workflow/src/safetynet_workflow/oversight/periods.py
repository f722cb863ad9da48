"""Reporting periods on the county's calendar (Asia/Shanghai): weeks start on Mondays, months on the 1st,
quarters on 1 January, April, July and October. A period is `[start, end)`."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Period = Literal["week", "month", "quarter"]
COUNTY_ZONE = ZoneInfo("Asia/Shanghai")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def today(now: datetime) -> date:
    return now.astimezone(COUNTY_ZONE).date()


def period_start(period: Period, day: date) -> date:
    """The first day of the period `day` lies in."""
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def period_end(period: Period, start: date) -> date:
    """The day after the period that starts on `start`."""
    if period == "week":
        return start + timedelta(days=7)
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def is_period_start(period: Period, day: date) -> bool:
    return period_start(period, day) == day


def midnight(day: date) -> datetime:
    """The start of a day in the county."""
    return datetime(day.year, day.month, day.day, tzinfo=COUNTY_ZONE)


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_quarter(text: str) -> date | None:
    """The first day of a quarter written `2026-Q4` (None when it is not written so)."""
    match = QUARTER.match(text)
    return date(int(match[1]), 3 * (int(match[2]) - 1) + 1, 1) if match else None
