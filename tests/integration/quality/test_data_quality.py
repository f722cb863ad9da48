"""Registry data quality on the real Postgres: rejections stay 422, flags land in the per-region list,
a duplicate ID number across two households is flagged on both and resolves when corrected."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from prometheus_client import REGISTRY

from safetynet_core.auth import Role
from safetynet_intake.quality import id_check_digit
from safetynet_intake.samples import household_record, ndjson

pytestmark = pytest.mark.integration
VILLAGE = "610327101201"
OTHER_TOWNSHIP_VILLAGE = "610327102001"


def valid_id(born: date, serial: str) -> str:
    body = f"610327{born:%Y%m%d}{serial}"
    return body + id_check_digit(body)


def person(member_id: str, born: date, serial: str, capacity: str = "full") -> dict[str, Any]:
    return {
        "member_id": member_id,
        "name": "赵六",
        "id_number": valid_id(born, serial),
        "birth_date": born.isoformat(),
        "labour_capacity": capacity,
        "in_school": False,
    }


def clean(household_id: str, *members: dict[str, Any], region: str = VILLAGE, **changes: Any) -> dict[str, Any]:
    return household_record(
        household_id, region_code=region, members=list(members), head_member_id=members[0]["member_id"], **changes
    )


def metric(check: str, outcome: str) -> float:
    labels = {"check": check, "outcome": outcome}
    return REGISTRY.get_sample_value("safetynet_intake_data_quality_issues_total", labels) or 0.0


async def test_duplicate_id_number_across_households_is_flagged_and_resolves(start_intake: Any) -> None:
    async with start_intake() as intake:
        shared = person("A1", date(1975, 6, 1), "111")
        before = metric("duplicate", "flagged")
        assert (await intake.put_record(clean("HQ1", shared))).status_code == 200
        second = clean(
            "HQ2", {**shared, "member_id": "B1"}, person("B2", date(1978, 2, 2), "222"), region=OTHER_TOWNSHIP_VILLAGE
        )
        assert (await intake.put_record(second)).status_code == 200  # flagged, not rejected

        county = await intake.quality(Role.COUNTY_OFFICER, "610327", check="duplicate")
        assert county.status_code == 200, county.text
        issues = county.json()["issues"]
        assert {(i["household_id"], i["other_household_id"], i["field"]) for i in issues} == {
            ("HQ1", "HQ2", "members[A1].id_number"),
            ("HQ2", "HQ1", "members[B1].id_number"),
        }
        assert all(i["status"] == "open" and i["detected_at"] and i["resolved_at"] is None for i in issues)
        assert metric("duplicate", "flagged") - before == 2
        # region-scoped: the first village's cadre sees only its own household
        cadre = await intake.quality(Role.VILLAGE_CADRE, VILLAGE, check="duplicate")
        assert [i["household_id"] for i in cadre.json()["issues"]] == ["HQ1"]
        broader = await intake.quality(Role.VILLAGE_CADRE, VILLAGE, region="610327", check="duplicate")
        assert [i["household_id"] for i in broader.json()["issues"]] == ["HQ1"]  # narrowed to the scope
        assert (await intake.quality(Role.VILLAGE_CADRE, VILLAGE, region=OTHER_TOWNSHIP_VILLAGE)).status_code == 403
        assert (await intake.quality(Role.DEPARTMENT_OFFICER, "610327")).status_code == 403
        anonymous = await intake.http.get(f"{intake.url}/v1/data-quality")
        assert anonymous.status_code == 401
        api_key = {"Authorization": f"Bearer {await intake.key('rural_revitalization')}"}
        assert (await intake.http.get(f"{intake.url}/v1/data-quality", headers=api_key)).status_code == 401

        # only peppered hashes are stored
        hashes = await intake.db.fetch("select id_hash from member_id_hashes")
        assert all(shared["id_number"] not in r["id_hash"] for r in hashes)
        assert shared["id_number"] not in str(await intake.db.fetch("select * from data_quality_issues"))

        # the second household's record is corrected: both issues resolve
        fixed = clean(
            "HQ2",
            person("B1", date(1975, 6, 1), "333"),
            person("B2", date(1978, 2, 2), "222"),
            region=OTHER_TOWNSHIP_VILLAGE,
        )
        assert (await intake.put_record(fixed)).status_code == 200
        still_open = await intake.quality(Role.COUNTY_OFFICER, "610327", check="duplicate")
        assert still_open.json()["issues"] == []
        resolved = await intake.quality(Role.COUNTY_OFFICER, "610327", check="duplicate", status="resolved")
        assert {i["household_id"] for i in resolved.json()["issues"]} == {"HQ1", "HQ2"}
        assert all(i["resolved_at"] for i in resolved.json()["issues"])


async def test_duplicates_within_one_batch_and_flags_versus_rejections(start_intake: Any) -> None:
    async with start_intake() as intake:
        shared = person("C1", date(1990, 1, 1), "444")
        mismatch = clean("HB3", person("E1", date(1985, 5, 5), "555"))
        mismatch["members"][0]["birth_date"] = "1985-05-06"
        child = person("F2", date(2016, 4, 4), "666", capacity="full")
        response = await intake.post_batch(
            ndjson(
                clean("HB1", shared),
                clean("HB2", {**shared, "member_id": "D1"}),
                mismatch,
                clean("HB4", person("F1", date(1980, 1, 1), "777"), child, annual_net_income_cny=0),
            )
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 3
        [rejected] = result["rejected"]
        assert rejected["line"] == 3 and rejected["errors"][0]["loc"] == ["members", 0, "birth_date"]

        listed = (await intake.quality(Role.COUNTY_OFFICER, "610327")).json()["issues"]
        found = {(i["household_id"], i["check"], i["rule"]) for i in listed}
        assert {
            ("HB1", "duplicate", "id_number_in_other_household"),
            ("HB2", "duplicate", "id_number_in_other_household"),
            ("HB4", "cross_field", "child_full_labour"),
            ("HB4", "cross_field", "labour_without_income"),
        } <= found
        assert not any(h == "HB3" for h, _, _ in found)
        # the same record again changes nothing and opens nothing new
        again = await intake.post_batch(ndjson(clean("HB1", shared)))
        assert again.json()["unchanged"] == 1
        assert len((await intake.quality(Role.COUNTY_OFFICER, "610327")).json()["issues"]) == len(listed)


async def test_an_id_number_pasted_into_many_households_names_a_bounded_number_of_partners(start_intake: Any) -> None:
    from safetynet_intake.quality import MAX_DUPLICATE_PARTNERS

    async with start_intake() as intake:
        shared = person("P1", date(1980, 3, 3), "333")
        count = MAX_DUPLICATE_PARTNERS + 15
        for index in range(count):
            record = clean(f"HP{index:03d}", {**shared, "member_id": f"P{index}"})
            assert (await intake.put_record(record)).status_code == 200
        county = await intake.quality(Role.COUNTY_OFFICER, "610327", check="duplicate", limit="1000")
        assert county.status_code == 200, county.text
        per_household: dict[str, int] = {}
        for issue in county.json()["issues"]:
            per_household[issue["household_id"]] = per_household.get(issue["household_id"], 0) + 1
        assert set(per_household) == {f"HP{index:03d}" for index in range(count)}
        assert max(per_household.values()) <= MAX_DUPLICATE_PARTNERS


async def test_a_case_worker_reads_a_households_record_with_id_numbers_and_phone_masked(start_intake: Any) -> None:
    async with start_intake() as intake:
        head, child = person("M1", date(1980, 1, 1), "123"), person("M2", date(2012, 3, 4), "456", "none")
        record = clean("HR1", head, child, phone="13800138000")
        assert (await intake.put_record(record)).status_code == 200
        url = f"{intake.url}/v1/households/HR1"

        cadre = await intake.http.get(url, headers=intake.token(Role.VILLAGE_CADRE, VILLAGE))
        assert cadre.status_code == 200, cadre.text
        body = cadre.json()
        assert (body["household_id"], body["region_code"], body["head_member_id"]) == ("HR1", VILLAGE, "M1")
        assert [m["member_id"] for m in body["members"]] == ["M1", "M2"]
        assert [m["labour_capacity"] for m in body["members"]] == ["full", "none"]
        assert body["members"][0]["id_number_masked"].endswith(head["id_number"][-4:])
        assert body["phone"] == "*******8000"
        for secret in (head["id_number"], child["id_number"], "13800138000"):
            assert secret not in cadre.text

        outsider = await intake.http.get(url, headers=intake.token(Role.VILLAGE_CADRE, OTHER_TOWNSHIP_VILLAGE))
        assert outsider.status_code == 404
        officer = intake.token(Role.DEPARTMENT_OFFICER, "610327", "civil_affairs")
        assert (await intake.http.get(url, headers=officer)).status_code == 403
        api_key = await intake.http.get(url, headers={"Authorization": f"Bearer {await intake.key('civil_affairs')}"})
        assert api_key.status_code == 401
        admin = intake.token(Role.ADMIN, "")
        assert (await intake.http.get(f"{intake.url}/v1/households/NOPE", headers=admin)).status_code == 404
