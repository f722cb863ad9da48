"""Sample event documents and registry records for tests, benchmarks and demos."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson


def medical_event(household_id: str = "H610327101201001", **changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "medical_expense",
        "household_id": household_id,
        "member_id": "M1",
        "occurred_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "reference": "HIS-1",
        "payload": {"total_cost_cny": 30000, "out_of_pocket_cny": 12000, "inpatient": True},
    }
    event.update(changes)
    return event


def household_record(household_id: str = "H610327101201001", **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "household_id": household_id,
        "region_code": "610327101201",
        "poverty_status": "lifted",
        "members": [
            {
                "member_id": "M1",
                "name": "张三",
                "id_number": "610327198001011234",
                "birth_date": "1980-01-01",
                "labour_capacity": "full",
                "in_school": False,
            },
            {
                "member_id": "M2",
                "name": "李四",
                "id_number": "61032720100202123X",
                "birth_date": "2010-02-02",
                "labour_capacity": "none",
                "in_school": True,
            },
        ],
        "annual_net_income_cny": 14000,
        "head_member_id": "M1",
        "phone": "13800000000",
    }
    record.update(changes)
    return record


def id_number(serial: int) -> tuple[str, str]:
    """A well-formed PRC ID number (check digit included) and the birth date it encodes."""
    serial %= 20_000_000
    born = datetime(1950, 1, 1) + timedelta(days=serial % 20_000)
    body = f"610327{born:%Y%m%d}{serial // 20_000 % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]
    return body + check, f"{born:%Y-%m-%d}"


def ndjson(*documents: Any) -> bytes:
    return b"\n".join(d if isinstance(d, bytes) else orjson.dumps(d) for d in documents) + b"\n"
