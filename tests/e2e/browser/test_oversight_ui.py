"""The county's view in Debian's chromium (Playwright, headless), at desktop and phone widths: a county
officer lands on the dashboard, whose charts (Apache ECharts, served by the UI) show the ten towns by name
and whose numbers agree with `GET /v1/dashboard` and `GET /v1/reports/summary`; a bar of the chart and a
number of the table each lead to the case list filtered to it; the list searches, pages and exports what it
shows as CSV and XLSX. Screenshots and downloads go to tests/e2e/artifacts/.

The workflow service runs in-process on a fresh schema; its projection is written through the projection
store (cases in every step, tasks, identifications) and its reporting tables by SQL, as in
tests/integration/oversight."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from openpyxl import load_workbook
from playwright.async_api import Browser, Page, ViewportSize

from safetynet_core.auth import Role
from safetynet_workflow.ui import VENDOR
from tests.e2e.browser.test_case_worker_ui import ARTIFACTS, PHONE, browser
from tests.integration.oversight.conftest import COUNTY, PASSWORD, County, county
from tests.integration.oversight.test_dashboard_and_reports import county_with_cases

pytestmark = pytest.mark.e2e
__all__ = ["browser", "county"]  # fixtures used here

DESKTOP = ViewportSize(width=1280, height=900)
WIDTHS = {"desktop": DESKTOP, "phone": PHONE}
STEPS = ("screen", "verify", "assist", "evaluate")
HEADS = "王李张刘陈杨赵黄周吴"


async def more_cases(county: County) -> None:
    """A few cases in every town, in every step, so the charts have something to draw."""
    serial = 100
    for town in range(10):
        for village in range(2):
            code = f"610327{100 + town}{201 + village}"
            for step in STEPS[: 1 + (town + village) % 4]:
                serial += 1
                await county.case(f"C{serial:04d}", code, step, head=f"{HEADS[town]}{'明华'[village]}{serial}",
                                  opened_days_ago=(serial % 50) + 1,
                                  tasks=[{"kind": "screen", "due_in_days": 1 - serial % 3}])  # fmt: skip


@pytest.fixture
async def officer_site(county: County) -> AsyncIterator[County]:
    await county_with_cases(county)
    await more_cases(county)
    await county.auth(Role.COUNTY_OFFICER, COUNTY)  # a county officer with a known password
    yield county


async def log_in(page: Page, county: County, username: str) -> None:
    base = str(county.http.base_url).rstrip("/")
    await page.goto(f"{base}/")
    await page.fill("#username", username)
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{base}/dashboard")  # officers land on the dashboard


async def fits(page: Page, width: int) -> bool:
    return bool(await page.evaluate("document.documentElement.scrollWidth") <= width)


def numbers(rows: list[list[str]]) -> list[list[int]]:
    return [[int(v) for v in row] for row in rows]


async def dashboard_agrees_with_the_api(page: Page, county: County) -> dict[str, Any]:
    board = (await county.get("/v1/dashboard", Role.COUNTY_OFFICER, COUNTY)).json()
    summary = (await county.get("/v1/reports/summary", Role.COUNTY_OFFICER, COUNTY, period="quarter")).json()
    drawn = "window.echarts && ['chart-children', 'chart-trend'].every(id => echarts.getInstanceByDom(document.getElementById(id)))"  # noqa: E501
    await page.wait_for_function(drawn, timeout=20_000)  # ECharts drew both charts
    assert await page.inner_text("#dashboard-region") == "陇县 · 监测总览"
    names = await page.locator("#children tbody tr td:first-child").all_inner_texts()
    assert names == [c["name"] for c in board["children"]] and names[0] == "城关镇" and len(names) == 10
    shown = await page.locator("#children tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.querySelectorAll('a.num')].map(a => a.textContent.trim()))"
    )
    expected = [[c["monitored_households"], *(c["cases_by_step"][s] for s in STEPS), c["open_tasks"],
                 c["overdue_tasks"], c["identification_breaches"], c["missed_inclusions"]] for c in board["children"]]
    assert numbers(shown) == expected  # fmt: skip
    tiles = {
        key: int(await page.inner_text(f"#totals [data-total={key}] a.num"))
        for key in ("monitored_households", "open_tasks", "overdue_tasks", "identification_breaches",
                    "missed_inclusions")
    }  # fmt: skip
    assert tiles == {key: board["totals"][key] for key in tiles}
    open_steps = sum(v for k, v in summary["cases_by_step"].items() if k != "close")
    assert (tiles["monitored_households"], tiles["open_tasks"], tiles["overdue_tasks"]) == (
        open_steps, summary["tasks_open"], summary["tasks_overdue"]
    )  # fmt: skip
    assert tiles["identification_breaches"] == summary["identification_breached"]
    assert tiles["missed_inclusions"] == summary["missed_inclusions_count"]
    trend = await page.locator("#trend tbody tr td:nth-child(2) a.num").all_inner_texts()
    assert sum(map(int, trend)) == sum(w["opened"] for w in board["trend"])
    return board


async def click_bar(page: Page, series: int, row: int, value: int) -> None:
    """Click the middle of a bar of the children chart, where ECharts drew it."""
    x, y = await page.evaluate(
        """([series, row, value]) => {
            const chart = echarts.getInstanceByDom(document.getElementById('chart-children'));
            const before = chart.getOption().series.slice(0, series)
                .reduce((sum, s) => sum + (s.data[row].value || 0), 0);
            return chart.convertToPixel({seriesIndex: series}, [before + value / 2, row]);
        }""",
        [series, row, value],
    )
    box = await page.locator("#chart-children").bounding_box()
    assert box is not None
    await page.mouse.click(box["x"] + x, box["y"] + y)


async def listed(page: Page) -> list[str]:
    return await page.locator("#cases tbody tr").evaluate_all("rows => rows.map(r => r.dataset.case)")


async def drill_from_the_chart_and_the_table(page: Page, board: dict[str, Any], base: str) -> None:
    first = board["children"][0]
    step = next(s for s in STEPS if first["cases_by_step"][s])
    await click_bar(page, STEPS.index(step), 0, first["cases_by_step"][step])
    await page.wait_for_url("**/cases?**", timeout=20_000)
    assert parse_qs(urlsplit(page.url).query) == {"region": [first["code"]], "step": [step], "status": ["open"]}
    assert len(await listed(page)) == first["cases_by_step"][step]
    assert await page.input_value("#region") == first["code"]  # the filters show what was asked

    await page.goto(f"{base}/dashboard")
    row = page.locator(f"#children tr[data-code='{first['code']}']")
    await row.locator("a.num[data-num=overdue_tasks]").click()
    await page.wait_for_url("**overdue=true**")
    rows = await listed(page)
    assert rows and await page.locator("#cases tbody tr .badge.late").count() == len(rows)


async def search_page_and_export(page: Page, base: str, name: str) -> None:
    await page.goto(f"{base}/cases")
    await page.fill("#q", "王明")
    await page.click("#apply-filters")
    await page.wait_for_url("**q=**")
    found = await listed(page)
    heads = await page.locator("#cases tbody tr td:first-child a").all_inner_texts()
    assert found and all(h.startswith("王明") for h in heads)

    await page.goto(f"{base}/cases?limit=5")
    first = await listed(page)
    await page.click("#next-page")
    await page.wait_for_url("**cursor=**")
    second = await listed(page)
    assert len(first) == 5 and second and not set(first) & set(second)
    await page.screenshot(path=str(ARTIFACTS / f"cases-{name}.png"), full_page=True)

    async with page.expect_download() as download_info:
        await page.click("#export-csv")
    download = await download_info.value
    saved = ARTIFACTS / f"cases-{name}.csv"
    await download.save_as(str(saved))
    rows = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert rows[0][0] == "户编号" and [r[-1] for r in rows[1:]] == second  # what is on screen

    async with page.expect_download() as download_info:
        await page.click("#export-xlsx")
    sheet = ARTIFACTS / f"cases-{name}.xlsx"
    await (await download_info.value).save_as(str(sheet))
    values = list(load_workbook(sheet).active.values)
    assert [row[-1] for row in values[1:]] == second


@pytest.mark.parametrize("name", list(WIDTHS))
async def test_county_officer_dashboard_drill_search_and_export(
    officer_site: County, browser: Browser, name: str
) -> None:
    assert (VENDOR / "echarts.min.js").is_file(), "ECharts is missing: make venv (deploy/local/ui_assets.sh)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    viewport = WIDTHS[name]
    context = await browser.new_context(viewport=viewport, accept_downloads=True)
    page = await context.new_page()
    base = str(officer_site.http.base_url).rstrip("/")
    username = officer_site.usernames[Role.COUNTY_OFFICER.value, COUNTY]
    await log_in(page, officer_site, username)
    board = await dashboard_agrees_with_the_api(page, officer_site)
    assert await fits(page, viewport["width"])
    await page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
    await drill_from_the_chart_and_the_table(page, board, base)
    await search_page_and_export(page, base, name)
    assert await fits(page, viewport["width"])
    await context.close()
