"""The region directory (seeded, API, CSV load) and the case list's filters, search and cursor pages."""

from __future__ import annotations

import pytest

from safetynet_core.auth import Role
from safetynet_workflow.regions.admin import load_regions
from safetynet_workflow.regions.models import RegionFileError
from tests.integration.oversight.conftest import CHENGGUAN, COUNTY, DONGFENG_VILLAGE, DONGGUAN, XIGUAN, County

pytestmark = pytest.mark.integration

TOWNS = ["城关镇", "东风镇", "八渡镇", "温水镇", "天成镇", "曹家湾镇", "固关镇", "东南镇", "河北镇", "新集川镇"]


async def test_the_directory_names_the_county_its_towns_and_villages(county: County) -> None:
    towns = await county.get("/v1/regions", Role.VILLAGE_CADRE, DONGGUAN, parent=COUNTY)
    assert towns.status_code == 200, towns.text
    assert [t["name"] for t in towns.json()] == TOWNS
    assert [t["code"] for t in towns.json()] == [f"610327{100 + i}" for i in range(10)]
    assert {(t["level"], t["parent"]) for t in towns.json()} == {("township", COUNTY)}
    assert (await county.get(f"/v1/regions/{COUNTY}", Role.AUDITOR, COUNTY)).json() == {
        "code": COUNTY, "name": "陇县", "level": "county", "parent": None,
    }  # fmt: skip
    village = (await county.get(f"/v1/regions/{DONGGUAN}", Role.GRID_WORKER, DONGGUAN)).json()
    assert village == {"code": DONGGUAN, "name": "东关村", "level": "village", "parent": CHENGGUAN}
    villages = (await county.get("/v1/regions", Role.TOWNSHIP_OFFICER, CHENGGUAN, parent=CHENGGUAN)).json()
    assert len(villages) == 6 and villages[1]["name"] == "西关村"
    roots = (await county.get("/v1/regions", Role.ADMIN, "")).json()
    assert [r["code"] for r in roots] == [COUNTY]

    missing = await county.get("/v1/regions/610327199", Role.AUDITOR, COUNTY)
    assert missing.status_code == 404 and missing.json()["detail"][0]["loc"] == ["path", "code"]
    bad = await county.get("/v1/regions/6103", Role.AUDITOR, COUNTY)
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "code"
    assert (await county.http.get(f"/v1/regions/{COUNTY}")).status_code == 401


async def test_another_county_loads_from_csv_and_bad_lines_are_named(county: County) -> None:
    loaded = await load_regions(
        county.settings, "code,name,parent\n610328,千阳县,6103\n610328100,城关镇,610328\n610328100201,南关村,\n"
    )
    assert loaded == {"loaded": 3, "by_level": {"county": 1, "township": 1, "village": 1}}
    village = (await county.get("/v1/regions/610328100201", Role.ADMIN, "")).json()
    assert village == {"code": "610328100201", "name": "南关村", "level": "village", "parent": "610328100"}
    await load_regions(county.settings, "code,name,parent\n610328100,城关街道,610328\n")  # renamed
    assert (await county.get("/v1/regions/610328100", Role.ADMIN, "")).json()["name"] == "城关街道"

    with pytest.raises(RegionFileError) as bad:
        await load_regions(county.settings, "code,name,parent\n61032,短,\n610329100,镇,610328\n610327100203,,\n")
    assert [(e["line"], e["field"]) for e in bad.value.errors] == [(2, "code"), (3, "parent"), (4, "name")]
    with pytest.raises(RegionFileError) as orphan:
        await load_regions(county.settings, "code,name,parent\n610330100201,无主村,\n")
    assert orphan.value.errors[0]["line"] == 2 and orphan.value.errors[0]["field"] == "parent"
    with pytest.raises(RegionFileError) as header:
        await load_regions(county.settings, "code;name;parent\n")
    assert header.value.errors[0]["field"] == "header"


async def test_case_list_filters_searches_and_pages(county: County) -> None:
    await county.case("C0001", DONGGUAN, "screen", head="王建国", opened_days_ago=1,
                      tasks=[{"kind": "screen", "due_in_days": -1}])  # fmt: skip
    await county.case("C0002", XIGUAN, "verify", head="李秀英", opened_days_ago=2, category="sudden_hardship",
                      tasks=[{"kind": "home_visit", "due_in_days": 2}])  # fmt: skip
    await county.case("C0003", DONGGUAN, "evaluate", head="王芳", opened_days_ago=3, breached=True)
    await county.case("C0004", DONGFENG_VILLAGE, "screen", head="张伟", opened_days_ago=4)
    await county.case("C0005", DONGGUAN, "screen", head="赵敏", opened_days_ago=5, close_reason="dismissed",
                      closed_days_ago=1)  # fmt: skip

    async def ids(role: Role = Role.COUNTY_OFFICER, scope: str = COUNTY, /, **params: object) -> list[str]:
        response = await county.get("/v1/cases", role, scope, **params)
        assert response.status_code == 200, response.text
        return [c["case_id"] for c in response.json()["cases"]]

    assert await ids() == ["C0001", "C0002", "C0003", "C0004", "C0005"]  # newest first
    assert await ids(q="王") == ["C0001", "C0003"]  # the head's name
    assert await ids(q="h610327101") == ["C0004"]  # a household id prefix, any case
    assert await ids(q="%") == []  # no wildcard
    assert await ids(step="screen", status="open") == ["C0001", "C0004"]
    assert await ids(status="closed") == ["C0005"]
    assert await ids(category="sudden_hardship") == ["C0002"]
    assert await ids(overdue="true") == ["C0001"]
    assert await ids(open_tasks="true") == ["C0001", "C0002"]
    assert await ids(breached="true") == ["C0003"]
    assert await ids(region=CHENGGUAN, status="open") == ["C0001", "C0002", "C0003"]
    assert await ids(Role.TOWNSHIP_OFFICER, CHENGGUAN) == ["C0001", "C0002", "C0003", "C0005"]
    assert await ids(Role.ADMIN, "", q="张") == ["C0004"]

    first = (await county.get("/v1/cases", Role.COUNTY_OFFICER, COUNTY, limit=2)).json()
    listed = first["cases"][0]
    assert listed["region_name"] == "城关镇 东关村" and listed["household"]["head_name"] == "王建国"
    assert (listed["open_tasks"], listed["overdue_tasks"]) == (1, 1)
    pages, cursor = [[c["case_id"] for c in first["cases"]]], first["next_cursor"]
    while cursor:
        body = (await county.get("/v1/cases", Role.COUNTY_OFFICER, COUNTY, limit=2, cursor=cursor)).json()
        pages.append([c["case_id"] for c in body["cases"]])
        cursor = body["next_cursor"]
    assert pages == [["C0001", "C0002"], ["C0003", "C0004"], ["C0005"]]

    for params, field in (({"cursor": "not-a-cursor"}, "cursor"), ({"status": "lost"}, "status"),
                          ({"category": "rich"}, "category"), ({"limit": 0}, "limit")):  # fmt: skip
        bad = await county.get("/v1/cases", Role.COUNTY_OFFICER, COUNTY, **params)
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == field, bad.text
    other = await county.get("/v1/cases", Role.TOWNSHIP_OFFICER, CHENGGUAN, region="610327101")
    assert other.status_code == 403
