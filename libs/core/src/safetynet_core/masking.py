"""Personal data masked in one place, for logs, API answers, pages, notices, exports and messages that leave
the core pipeline: ID numbers (and other long digit runs such as bank cards) keep their last 4 characters,
birth dates their year, phone numbers their last 4 digits.

An ID number's hidden part must include the birth date (characters 7-14), which is shown elsewhere (as a
year now): keeping only the last four characters is what makes the mask irreversible."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

KEEP = 4
# Not inside a word of ASCII letters and digits: identifiers such as household ids ("H" + 16 digits) and
# hex case ids stay whole, while a number right after Chinese text is still found.
_WORD = "0-9A-Za-z_*"
# 15- and 18-character resident ID numbers and other 15-19 digit runs (bank cards), and IDs already masked
# the old way (region prefix and last four kept), which are masked again.
_ID_NUMBER = re.compile(rf"(?<![{_WORD}])(?:\d{{14,18}}[\dXx]|\d{{6}}\*{{8}}\d{{3}}[\dXx])(?![{_WORD}])")
# Mainland mobile numbers (optionally +86) and landlines written with an area code and a dash.
_PHONE = re.compile(rf"(?<![{_WORD}])(?:(?:\+?86[- ]?)?1[3-9]\d{{9}}|0\d{{2,3}}-\d{{7,8}})(?![{_WORD}])")
_ID_KEY = re.compile(r"id_?(number|card)|identity_?(number|card)", re.IGNORECASE)
_BIRTH_KEY = re.compile(r"birth_?date|date_?of_?birth|^dob$|^birthday$", re.IGNORECASE)
_PHONE_KEY = re.compile(r"phone|mobile|telephone", re.IGNORECASE)


def _keep_last(value: str, keep: int = KEEP) -> str:
    return "*" * max(len(value) - keep, 0) + value[-keep:] if len(value) > keep else "*" * len(value)


def mask_id_number(value: str) -> str:
    """One ID number (raw or already masked) with everything but its last four characters hidden."""
    return _keep_last(value.strip())


def mask_phone(phone: str | None) -> str | None:
    """A phone number with every digit but the last four hidden; separators kept."""
    if not phone:
        return phone
    digits = sum(c.isdigit() for c in phone)
    hidden = max(digits - KEEP, 0)
    out = []
    for c in phone:
        if c.isdigit() and hidden > 0:
            out.append("*")
            hidden -= 1
        else:
            out.append(c)
    return "".join(out)


def mask_birth_date(value: str | date | None) -> str | None:
    """A birth date cut down to its year ("1980-01-01" -> "1980")."""
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    year = text.strip()[:4]
    return year if year.isdigit() else "****"


def mask_id_numbers(text: str) -> str:
    """Every ID number (and long digit run) in free text, masked to its last four characters."""
    return _ID_NUMBER.sub(lambda m: mask_id_number(m.group(0)), text)


def mask_phones(text: str) -> str:
    """Every phone number in free text, masked to its last four digits."""
    return _PHONE.sub(lambda m: mask_phone(m.group(0)) or "", text)


def mask_text(text: str) -> str:
    """Free text with ID numbers and phone numbers masked."""
    return mask_phones(mask_id_numbers(text))


def mask_personal_data(value: Any, key: str | None = None) -> Any:
    """A JSON-like value with personal data masked: fields named like ID numbers, birth dates and phones by
    their name, every other string as free text; mappings and lists recursively."""
    if isinstance(value, Mapping):
        return {k: mask_personal_data(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_personal_data(v, key) for v in value]
    if key is not None and value is not None:
        if _BIRTH_KEY.search(key) and isinstance(value, str | date):
            return mask_birth_date(value)
        if _ID_KEY.search(key) and isinstance(value, str):
            return mask_id_number(value)
        if _PHONE_KEY.search(key) and isinstance(value, str):
            return mask_phone(value)
    if isinstance(value, str):
        return mask_text(value)
    return value
