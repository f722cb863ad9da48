"""Every error status intake answers, each in the one JSON error shape naming the field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from safetynet_intake.samples import household_record, medical_event, ndjson

pytestmark = pytest.mark.integration


def assert_error(response: httpx.Response, status: int, loc: list[Any]) -> None:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all(set(item) == {"loc", "msg", "type"} for item in detail)
    assert loc in [item["loc"] for item in detail], detail


async def test_missing_malformed_wrong_and_revoked_keys_get_401(start_intake: Any) -> None:
    async with start_intake(api_key_cache_ttl=0) as intake:
        url = intake.url + "/v1/events"
        assert_error(await intake.http.post(url, json=medical_event()), 401, ["header", "Authorization"])
        for key in ("nonsense", "snk_cunknown_secret"):
            response = await intake.http.post(url, json=medical_event(), headers={"Authorization": f"Bearer {key}"})
            assert_error(response, 401, ["header", "Authorization"])
        key = await intake.key("medical_insurance")
        wrong = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
        response = await intake.http.post(url, json=medical_event(), headers={"Authorization": f"Bearer {wrong}"})
        assert_error(response, 401, ["header", "Authorization"])

        assert (await intake.post("/v1/events", "medical_insurance", json=medical_event())).status_code == 202
        client_id = key.split("_")[1]
        await intake.db.execute("update api_clients set revoked_at = now() where client_id = $1", client_id)
        assert_error(
            await intake.post("/v1/events", "medical_insurance", json=medical_event()),
            401,
            ["header", "Authorization"],
        )


async def test_event_type_not_granted_and_registry_writes_get_403(start_intake: Any) -> None:
    async with start_intake() as intake:
        flood = medical_event(
            type="disaster_loss", payload={"disaster_type": "flood", "loss_cny": 10, "housing_damage": "none"}
        )
        assert_error(await intake.post("/v1/events", "medical_insurance", json=flood), 403, ["body", "type"])
        assert (await intake.post("/v1/events", "emergency_management", json=flood)).status_code == 202
        assert_error(
            await intake.put("/v1/households/H1", "medical_insurance", json=household_record("H1")),
            403,
            ["header", "Authorization"],
        )
        assert_error(
            await intake.post("/v1/households:batch", "civil_affairs", content=ndjson(household_record())),
            403,
            ["header", "Authorization"],
        )
        narrow = await intake.new_key("civil_affairs", ["death"])
        response = await intake.http.post(
            intake.url + "/v1/events",
            headers={"Authorization": f"Bearer {narrow}"},
            json=medical_event(
                type="income_change",
                payload={"previous_annual_income_cny": 1, "current_annual_income_cny": 0, "reason": "other"},
            ),
        )
        assert_error(response, 403, ["body", "type"])


async def test_too_big_bodies_get_413(start_intake: Any) -> None:
    async with start_intake(batch_max_lines=3) as intake:
        huge = medical_event(reference="x" * 100, payload={"blob": "y" * 2_000_000})
        assert_error(await intake.post("/v1/events", "medical_insurance", json=huge), 413, ["body"])
        four = ndjson(*(medical_event() for _ in range(4)))
        assert_error(await intake.post("/v1/events:batch", "medical_insurance", content=four), 413, ["body"])
        three = ndjson(*(medical_event() for _ in range(3)))
        assert (await intake.post("/v1/events:batch", "medical_insurance", content=three)).json()["accepted"] == 3


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"occurred_at": (datetime.now(UTC) + timedelta(days=2)).isoformat()}, ["body", "occurred_at"]),
        ({"occurred_at": "1999-12-31T23:00:00+00:00"}, ["body", "occurred_at"]),
        ({"occurred_at": "2024-01-01T10:00:00"}, ["body", "occurred_at"]),
        (
            {"payload": {"total_cost_cny": -1, "out_of_pocket_cny": 1, "inpatient": True}},
            ["body", "payload", "total_cost_cny"],
        ),
        (
            {"payload": {"total_cost_cny": 1, "out_of_pocket_cny": 1, "inpatient": True, "extra": 1}},
            ["body", "payload", "extra"],
        ),
        ({"type": "no_such_type"}, ["body", "type"]),
        ({"household_id": ""}, ["body", "household_id"]),
        ({"event_id": None}, ["body", "event_id"]),
        ({"type": "death", "member_id": None, "payload": {}}, ["body", "member_id"]),
        ({"surprise": 1}, ["body", "surprise"]),
    ],
)
async def test_invalid_events_get_422_naming_the_field(
    start_intake: Any, changes: dict[str, Any], loc: list[Any]
) -> None:
    async with start_intake(intake_run_relay=False, intake_run_status_consumer=False) as intake:
        key = await intake.new_key("civil_affairs", ["medical_expense", "death"])
        response = await intake.http.post(
            intake.url + "/v1/events",
            json=medical_event(**changes),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert_error(response, 422, loc)


async def test_unparseable_bodies_get_422(start_intake: Any) -> None:
    async with start_intake(intake_run_relay=False, intake_run_status_consumer=False) as intake:
        assert_error(await intake.post("/v1/events", "medical_insurance", content=b"{nope"), 422, ["body"])
        assert_error(await intake.post("/v1/events", "medical_insurance", json=[1, 2]), 422, ["body"])
        assert_error(
            await intake.put("/v1/households/H1", "rural_revitalization", json=household_record("H2")),
            422,
            ["body", "household_id"],
        )
        assert_error(await intake.post("/v1/events:batch", "medical_insurance", content=b"\n\n"), 422, ["body"])
