"""Intake (issue 20): region-bound API clients write only inside their region, and answers show no more
than the last four characters of an ID number, the year of a birth date and the last four digits of a phone."""

from __future__ import annotations

import re
from typing import Any

import pytest

from safetynet_core.testing import unique
from safetynet_intake.clients import create_client
from safetynet_intake.samples import household_record, medical_event, ndjson
from tests.security.support import OTHER_COUNTY_VILLAGE, VILLAGE, Running, bearer, token_for

pytestmark = pytest.mark.integration
COUNTY = VILLAGE[:6]
# More than the last four characters of the sample ID numbers, a full birth date, more of the phone.
LEAKS = re.compile(r"61032719|6103272010|1980-01-01|2010-02-02|19800101|20100202|1380000")


async def key(intake: Running, department: str, region: str | None = None) -> dict[str, str]:
    _, api_key = await create_client(intake.db, department, f"{department} {region}", None, region)
    return bearer(api_key)


async def test_a_region_bound_registry_key_writes_households_only_inside_its_county(intake: Running) -> None:
    """The finding: `rural_revitalization` keys wrote households of any county."""
    bound, unbound = await key(intake, "rural_revitalization", COUNTY), await key(intake, "rural_revitalization")
    inside, outside, elsewhere = unique("H"), unique("H"), unique("H")
    put = intake.http.put
    assert (await put(f"/v1/households/{inside}", headers=bound, json=household_record(inside))).status_code == 200
    foreign = household_record(outside, region_code=OTHER_COUNTY_VILLAGE)
    refused = await put(f"/v1/households/{outside}", headers=bound, json=foreign)
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"][0]["loc"] == ["body", "region_code"]
    # a household registered in another county cannot be taken over by writing it with an inside region
    assert (await put(f"/v1/households/{elsewhere}", headers=unbound, json=household_record(
        elsewhere, region_code=OTHER_COUNTY_VILLAGE))).status_code == 200  # fmt: skip
    takeover = await put(f"/v1/households/{elsewhere}", headers=bound, json=household_record(elsewhere))
    assert takeover.status_code == 403 and takeover.json()["detail"][0]["loc"] == ["body", "household_id"]
    corrected = await intake.http.patch(f"/v1/households/{elsewhere}", headers=bound, json={"phone": "13900000000"})
    assert corrected.status_code == 403 and corrected.json()["detail"][0]["loc"] == ["path", "household_id"]
    batch = await intake.http.post(
        "/v1/households:batch",
        headers={**bound, "Content-Type": "application/x-ndjson"},
        content=ndjson(household_record(unique("H")), foreign, household_record(elsewhere)),
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["accepted"] == 1 and [r["line"] for r in batch.json()["rejected"]] == [2, 3]
    assert {r["errors"][0]["type"] for r in batch.json()["rejected"]} == {"forbidden"}
    regions = dict(await intake.db.fetch("select household_id, region_code from households"))
    assert outside not in regions and regions[elsewhere] == OTHER_COUNTY_VILLAGE
    assert (await put(f"/v1/households/{outside}", headers=unbound, json=foreign)).status_code == 200


async def test_a_region_bound_department_key_posts_events_only_for_households_inside(intake: Running) -> None:
    registry = await key(intake, "rural_revitalization")
    inside, outside = unique("H"), unique("H")
    await intake.http.put(
        f"/v1/households/{inside}", headers=registry, json=household_record(inside, region_code=VILLAGE)
    )
    await intake.http.put(
        f"/v1/households/{outside}", headers=registry, json=household_record(outside, region_code=OTHER_COUNTY_VILLAGE)
    )
    medical = await key(intake, "medical_insurance", VILLAGE[:9])
    assert (await intake.http.post("/v1/events", headers=medical, json=medical_event(inside))).status_code == 202
    for household in (outside, unique("H-unregistered")):
        refused = await intake.http.post("/v1/events", headers=medical, json=medical_event(household))
        assert refused.status_code == 403, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "household_id"]
    batch = await intake.http.post(
        "/v1/events:batch",
        headers={**medical, "Content-Type": "application/x-ndjson"},
        content=ndjson(medical_event(outside), medical_event(inside), medical_event(inside)),
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["accepted"] == 2 and [r["line"] for r in batch.json()["rejected"]] == [1]
    assert batch.json()["rejected"][0]["errors"][0]["loc"] == ["household_id"]
    households = [r["household_id"] for r in await intake.db.fetch("select household_id from events")]
    assert sorted(set(households)) == [inside] and len(households) == 3


async def test_answers_mask_id_numbers_birth_dates_and_phones(intake: Running) -> None:
    """The finding: the household API showed the birth date beside an ID mask that kept characters 1-6
    and 15-18, so the hidden eight (the birth date) could be filled back in."""
    registry, grid = await key(intake, "rural_revitalization"), await key(intake, "grid")
    household = f"H{VILLAGE}0001"  # the demo's shape: 16 digits that are no ID number
    stored = await intake.http.put(f"/v1/households/{household}", headers=registry, json=household_record(household))
    assert stored.status_code == 200
    report = medical_event(
        household, type="grid_report",
        payload={"risk_types": ["illness"], "notes": "head 610327198001011234 asked, call 13800000000"},
    )  # fmt: skip
    assert (await intake.http.post("/v1/events", headers=grid, json=report)).status_code == 202
    officer = token_for(intake.settings, "county_officer", COUNTY)
    answer = await intake.http.get(f"/v1/households/{household}", headers=officer)
    assert answer.status_code == 200, answer.text
    members: list[dict[str, Any]] = answer.json()["members"]
    assert [m["id_number_masked"] for m in members] == ["**************1234", "**************123X"]
    assert [m["birth_date"] for m in members] == ["1980", "2010"]
    assert answer.json()["phone"] == "*******0000"
    assert answer.json()["household_id"] == household
    event = await intake.http.get(f"/v1/events/{report['event_id']}", headers=grid)
    assert event.status_code == 200 and "**************1234" in event.text
    wrong = household_record(household)
    wrong["members"][0]["birth_date"] = "1980-01-02"
    refused = await intake.http.put(f"/v1/households/{household}", headers=registry, json=wrong)
    assert refused.status_code == 422
    for text in (answer.text, event.text, refused.text):
        assert not LEAKS.search(text), LEAKS.findall(text)
    table = str(await intake.db.fetch("select members::text, phone from households"))
    assert "61032719800101" not in table  # the full number never reaches intake's table
