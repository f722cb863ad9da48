"""The oversight pages over HTTP with a signed-in session: officers land on the dashboard, whose numbers are
links into the filtered case list; the case list searches, pages and exports what it shows; the scorecard,
应纳未纳 and report submission pages."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook

from safetynet_core.auth import Role
from safetynet_core.testing import form_token
from tests.integration.oversight.conftest import CHENGGUAN, COUNTY, DONGGUAN, XIGUAN, County
from tests.integration.oversight.test_dashboard_and_reports import county_with_cases

pytestmark = pytest.mark.integration


async def session(county: County, role: Role, region: str) -> dict[str, str]:
    """The UI's session cookie for a signed-in user (the same token the API takes)."""
    token = (await county.auth(role, region))["Authorization"].removeprefix("Bearer ")
    return {"Cookie": f"safetynet_session={token}"}


def links(html: str, attribute: str, value: str) -> list[str]:
    return re.findall(rf'<a class="num[^"]*" data-num="{value}" href="([^"]+)"', html) if attribute else []


async def test_officers_land_on_a_dashboard_whose_numbers_lead_to_the_cases(county: County) -> None:
    await county_with_cases(county)
    officer = await session(county, Role.COUNTY_OFFICER, COUNTY)
    landing = await county.http.get("/", headers=officer)
    assert landing.status_code == 303 and landing.headers["location"] == "/dashboard"
    inbox = await county.http.get("/inbox", headers=officer)
    assert inbox.status_code == 200 and 'id="nav-dashboard"' in inbox.text
    cadre = await session(county, Role.VILLAGE_CADRE, DONGGUAN)
    assert (await county.http.get("/", headers=cadre)).status_code == 200  # the cadre's inbox
    assert (await county.http.get("/dashboard", headers=cadre)).status_code == 403

    page = await county.http.get("/dashboard", headers=officer)
    assert page.status_code == 200, page.text
    html = page.text
    assert "陇县" in html and "城关镇" in html and "新集川镇" in html and 'src="/static/vendor/echarts.min.js"' in html
    screens = links(html, "data-num", "screen")
    assert screens[0] == f"/cases?region={CHENGGUAN}&amp;step=screen&amp;status=open"
    filtered = await county.http.get(screens[0].replace("&amp;", "&"), headers=officer)
    assert re.findall(r'data-case="(C\d+)"', filtered.text) == ["C0001"]
    overdue = links(html, "data-num", "overdue_tasks")[0].replace("&amp;", "&")  # the county's total
    assert parse_qs(urlsplit(overdue).query) == {"region": [COUNTY], "overdue": ["true"]}
    township = await county.http.get(f"/dashboard?region={CHENGGUAN}", headers=officer)
    assert "东关村" in township.text and f'href="/dashboard?region={COUNTY}"' in township.text
    chart = re.search(r'<script type="application/json" id="dashboard-data"[^>]*>(.*?)</script>', html, re.S)
    assert chart and '"links"' in chart.group(1)


async def test_the_case_list_searches_pages_and_exports_what_it_shows(county: County) -> None:
    await county_with_cases(county)
    officer = await session(county, Role.COUNTY_OFFICER, COUNTY)
    first = await county.http.get("/cases", params={"limit": 2}, headers=officer)
    assert first.status_code == 200, first.text
    assert re.findall(r'data-case="(C\d+)"', first.text) == ["C0005", "C0003"]  # newest first (then by id)
    assert "东风镇 东风村" in first.text and "城关镇 东关村" in first.text
    next_href = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert next_href
    second = await county.http.get(next_href.group(1).replace("&amp;", "&"), headers=officer)
    assert re.findall(r'data-case="(C\d+)"', second.text) == ["C0002", "C0001"]
    assert "王建国" in second.text

    found = await county.http.get("/cases", params={"q": "王建"}, headers=officer)
    assert re.findall(r'data-case="(C\d+)"', found.text) == ["C0001"]
    csv_href = re.search(r'id="export-csv" href="([^"]+)"', second.text)
    assert csv_href and "cursor=" in csv_href.group(1)
    exported = await county.http.get(csv_href.group(1).replace("&amp;", "&"), headers=officer)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["户编号", "户主", "区域"] and [r[-1] for r in rows[1:]] == ["C0002", "C0001"]
    assert rows[1][2] == "城关镇 西关村" and rows[1][4] == "从严核（核实）" and rows[2][1] == "王建国"
    xlsx = await county.http.get("/cases.xlsx", params={"region": XIGUAN}, headers=officer)
    values = list(load_workbook(io.BytesIO(xlsx.content)).active.values)
    assert [row[-1] for row in values[1:]] == ["C0002"] and values[1][2] == "城关镇 西关村"
    bad = await county.http.get("/cases", params={"status": "lost"}, headers=officer)
    assert bad.status_code == 422


async def test_scorecard_missed_inclusions_and_submissions_pages(county: County) -> None:
    await county_with_cases(county)
    officer = await session(county, Role.COUNTY_OFFICER, COUNTY)
    card = await county.http.get("/scorecard", headers=officer)
    assert card.status_code == 200 and "城关镇" in card.text and "50.0%" in card.text
    sheet = await county.http.get("/scorecard.xlsx", headers=officer)
    assert list(load_workbook(io.BytesIO(sheet.content)).active.values)[1][1] == "城关镇"
    missed = await county.http.get("/reports/missed-inclusions", headers=officer)
    assert "刘强" in missed.text and "近12个月医疗自付达到预警线" in missed.text

    township = await session(county, Role.TOWNSHIP_OFFICER, CHENGGUAN)
    form = await county.http.get("/reports/submissions", headers=township)
    this_week = re.search(r'name="period_start" value="([\d-]+)"', form.text)
    assert this_week
    week = {"period": "week", "period_start": this_week.group(1), **form_token(form.text)}
    forged = await county.http.post("/reports/submissions", data={**week, "csrf_token": "forged"}, headers=township)
    assert forged.status_code == 403  # a form post without its page's token changes nothing
    posted = await county.http.post("/reports/submissions", data=week, headers=township)
    assert posted.status_code == 303 and "done=submitted" in posted.headers["location"]
    again = await county.http.post("/reports/submissions", data=week, headers=township)
    assert "error=" in again.headers["location"]
    listed = await county.http.get("/reports/submissions", headers=officer)
    submission = re.search(r'<tr data-id="(S\w+)" data-status="submitted"', listed.text)
    assert submission and "东风镇" in listed.text  # among the townships that have not reported
    reviewed = await county.http.post(
        f"/reports/submissions/{submission.group(1)}/review",
        data={"decision": "approve", "note": "", **form_token(listed.text)},
        headers=officer,
    )
    assert reviewed.status_code == 303 and "done=approved" in reviewed.headers["location"]
    after = await county.http.get("/reports/submissions?status=approved", headers=officer)
    assert f'data-id="{submission.group(1)}" data-status="approved"' in after.text
