"""The UI's languages: zh-CN by default, English by a cookie; texts from messages.yaml (data), dates
through babel in the county's time zone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel.dates import format_datetime
from fastapi import Request

from safetynet_core.policy.workflow import WorkflowPolicy

CATALOGUE = Path(__file__).parent / "messages.yaml"
LANG_COOKIE = "safetynet_lang"
DISPLAY_ZONE = ZoneInfo("Asia/Shanghai")


class Lang(StrEnum):
    ZH = "zh-CN"
    EN = "en"

    @property
    def other(self) -> Lang:
        return Lang.EN if self is Lang.ZH else Lang.ZH

    @property
    def babel_locale(self) -> str:
        return "zh_Hans_CN" if self is Lang.ZH else "en"


@cache
def catalogue() -> dict[str, dict[str, str]]:
    loaded: dict[str, dict[str, str]] = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    return loaded


def lang_of(request: Request) -> Lang:
    """The language cookie's value, zh-CN when missing or unknown."""
    value = request.cookies.get(LANG_COOKIE, "")
    return Lang(value) if value in Lang._value2member_map_ else Lang.ZH


Translate = Callable[..., str]


def translator(lang: Lang) -> Translate:
    """`t(key, default=None, **values)`: the text in `lang`, else English, else `default`, else the key."""
    own, english = catalogue()[lang.value], catalogue()[Lang.EN.value]

    def t(key: str, default: str | None = None, **values: Any) -> str:
        text = own.get(key) or english.get(key) or default or key
        return text.format(**values) if values else text

    return t


CHOICE_GROUPS = ("choice", "category", "risk", "measure", "department", "level", "sweep_kind", "correction_field",
                 "ledger_source")  # fmt: skip


def choice_labeller(t: Translate) -> Callable[[str], str]:
    """The label of a form choice value, whichever catalogue group holds it (else the value)."""

    def label(value: str) -> str:
        for group in CHOICE_GROUPS:
            text = t(f"{group}.{value}", "")
            if text and text != f"{group}.{value}":
                return text
        return value

    return label


def as_datetime(value: datetime | str | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def date_formatter(lang: Lang) -> Callable[[datetime | str | None], str]:
    """Format a time (datetime or ISO string) as `yyyy-MM-dd HH:mm` in the display zone."""

    def fmt(value: datetime | str | None, pattern: str = "yyyy-MM-dd HH:mm") -> str:
        moment = as_datetime(value)
        if moment is None:
            return ""
        return format_datetime(moment, pattern, tzinfo=DISPLAY_ZONE, locale=lang.babel_locale)

    return fmt


def task_titles(policy: WorkflowPolicy, lang: Lang) -> dict[str, str]:
    """Task kind -> title in `lang`, from the policy."""
    return {kind: d.title_zh if lang is Lang.ZH else d.title_en for kind, d in policy.tasks.items()}
