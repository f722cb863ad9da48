"""The case-worker UI in Debian's chromium (Playwright, headless, no Playwright browser download): a
village cadre on a phone-width screen logs in, finds the screen task, completes the screen and home
visit forms (one rejected with errors next to their fields), the case moves on, English works, and
the village's printable public notice shows no personal data. Screenshots go to tests/e2e/artifacts/.

The workflow service runs in-process (fresh schema, topics and Temporal task queue) against the real
Kafka, Postgres and Temporal; the case starts from a risk assessment on Kafka, as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from safetynet_core.kafka import make_producer
from safetynet_core.settings import REPO_ROOT
from safetynet_core.testing import eventually, sample_assessment, serve, unique
from safetynet_workflow.auth.admin import create_user
from safetynet_workflow.info import SERVICE
from safetynet_workflow.main import create_app
from safetynet_workflow.settings import Settings

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "tests" / "e2e" / "artifacts"
PHONE = ViewportSize(width=375, height=812)
VILLAGE, TOWNSHIP = "610327101201", "610327101"
PASSWORD = "village cadre password"
ID_NUMBER = "610327198001011234"
MASKED_ID = "**************1234"
REASON_ZH, REASON_EN = "住院自付医疗费用超过预警线", "inpatient out-of-pocket costs above the warning line"


@dataclass
class Site:
    url: str
    household: str


def flagged(household: str) -> bytes:
    """A high-level assessment that opens a case, with one explained reason in both languages."""
    return sample_assessment(household, VILLAGE, income_pc=6100, policy_version="ui-test")


def system_chromium() -> str:
    """Debian's chromium: Playwright's own browser download is never used."""
    assert CHROMIUM.is_file(), "Debian chromium is missing: deploy/local/tools.sh installs it"
    return str(CHROMIUM)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=system_chromium(), headless=True, args=["--no-sandbox"]
        )
        yield launched
        await launched.close()


@pytest.fixture
async def site(isolated_settings: Callable[..., Any], provision: Callable[..., Any]) -> AsyncIterator[Site]:
    """The workflow service with a cadre and a township officer, and one household flagged."""
    settings: Settings = isolated_settings(
        Settings, workflow_task_queue=unique("uiq"), inspection_enabled=False, household_facts_wait_seconds=0.5
    )
    await provision(settings, SERVICE)
    await create_user(settings, username="cadre", password=PASSWORD, role="village_cadre", region=VILLAGE)
    await create_user(settings, username="township", password=PASSWORD, role="township_officer", region=TOWNSHIP)
    household = unique("H")
    producer = make_producer(settings)
    await producer.start()
    try:
        async with serve(create_app(settings)) as url:
            await producer.send_and_wait(settings.topic_risk_assessments, flagged(household), key=household.encode())
            yield Site(url, household)
    finally:
        await producer.stop()


async def fits_phone(page: Page) -> bool:
    """No horizontal scrolling at 375 px."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    return bool(width <= PHONE["width"])


async def log_in(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/")
    assert "/login" in page.url and await page.get_attribute("html", "lang") == "zh-CN"
    await page.fill("#username", "cadre")
    await page.fill("#password", "wrong")
    await page.click("#login-form button[type=submit]")
    assert await page.inner_text("#login-error") == "用户名或密码错误"
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{site.url}/")


async def screen_task_in_inbox(page: Page, site: Site) -> None:
    row = page.locator(f"#inbox tr[data-household='{site.household}'][data-kind='screen']")

    async def listed() -> bool:
        await page.reload()
        return await row.count() == 1

    await eventually(listed, timeout=30, interval=0.5, message="screen task in the cadre's inbox")
    assert await row.locator("td").nth(0).inner_text() == "筛查核实"
    assert "已超期" not in await row.inner_text()
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "inbox.png"), full_page=True)
    await row.locator("a.open-case").click()
    await page.wait_for_selector("#form-screen")


async def complete_screen(page: Page) -> None:
    assert await page.inner_text("#case-step") == "全面查（筛查）"
    assert REASON_ZH in await page.inner_text("#assessment")
    assert "6100" in await page.inner_text("#household")
    await page.select_option("#form-screen select[name=decision]", "proceed")
    await page.click("#form-screen button[type=submit]")
    await page.wait_for_selector("#form-home_visit", timeout=20_000)
    assert await page.inner_text("#case-step") == "从严核（核实）"


async def home_visit_rejected_then_done(page: Page) -> None:
    form = "#form-home_visit"
    await page.fill(f"{form} #f-visitors", "李伟")
    await page.fill(f"{form} #f-verified_annual_income_cny", "12000")
    await page.click(f"{form} button[type=submit]")
    visitors_error = page.locator(f"{form} [data-field=visitors] [data-error-for=visitors]")
    consent_error = page.locator(f"{form} [data-field=consent] [data-error-for=consent]")
    assert await visitors_error.inner_text() == "数量或长度不足"
    assert "at least 2" in (await visitors_error.get_attribute("title") or "")
    assert await consent_error.is_visible()
    assert await page.locator(f"{form} [data-field=verified_annual_income_cny] .field-error").count() == 0
    assert await page.input_value(f"{form} #f-verified_annual_income_cny") == "12000"  # kept

    await page.fill(f"{form} #f-visitors-1", "王芳")
    await page.check(f"{form} #f-consent")
    await page.fill(f"{form} #f-members_present", "3")
    await page.fill(f"{form} #f-notes", f"户主身份证 {ID_NUMBER}，家中有住院病人")
    await page.click(f"{form} button[type=submit]")
    await page.wait_for_selector("#tasks tr[data-kind=data_comparison]", timeout=20_000)
    assert await page.locator(form).count() == 0
    assert await page.get_attribute("#tasks tr[data-kind=home_visit]", "data-status") == "done"
    visit = await page.inner_text("#visit")
    assert MASKED_ID in visit and ID_NUMBER not in await page.content()


async def switch_to_english(page: Page) -> None:
    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    assert await page.inner_text("#case-step") == "Verify"
    assert REASON_EN in await page.inner_text("#assessment")
    assert await page.inner_text("#household h2") == "Household"
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "case.png"), full_page=True)


async def township_compares_data(site: Site) -> None:
    """The township's step, through the JSON API: the case then goes on public notice."""
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as http:
        token = await http.post("/v1/auth/token", data={"username": "township", "password": PASSWORD})
        auth = {"Authorization": f"Bearer {token.json()['access_token']}"}

        async def comparison() -> list[dict[str, Any]]:
            tasks = (await http.get("/v1/tasks", headers=auth, params={"kind": "data_comparison"})).json()["tasks"]
            return [t for t in tasks if t["household_id"] == site.household]

        [task] = await eventually(comparison, timeout=20, message="data comparison task")
        done = await http.post(f"/v1/tasks/{task['task_id']}/complete", headers=auth, json={"consistent": True})
        assert done.status_code == 200, done.text


async def printable_notice(page: Page, site: Site) -> None:
    async def village_listed() -> bool:
        await page.goto(f"{site.url}/notices")
        return await page.locator(f"#notice-villages a[href='/notices/{VILLAGE}']").count() == 1

    await eventually(village_listed, timeout=20, interval=0.5, message="village on the notices page")
    await page.click(f"a[href='/notices/{VILLAGE}']")
    notice = await page.inner_text("#notice")
    assert "Marginal household" in notice
    html = await page.content()
    assert site.household not in html and MASKED_ID not in html and "6100" not in html
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "notice.png"), full_page=True)


async def test_village_cadre_moves_a_case_through_the_ui(site: Site, browser: Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await log_in(page, site)
    await screen_task_in_inbox(page, site)
    await complete_screen(page)
    await home_visit_rejected_then_done(page)
    await switch_to_english(page)
    await township_compares_data(site)
    await printable_notice(page, site)

    await page.goto(f"{site.url}/")
    await page.click("#sort-due")
    assert page.url.endswith("/?sort=-due")
    await page.click("#logout")
    await page.wait_for_url("**/login")
    await page.goto(f"{site.url}/")
    assert "/login?next=" in page.url
    cookies = {c["name"]: c for c in await context.cookies()}
    assert "safetynet_session" not in cookies and cookies["safetynet_lang"]["value"] == "en"
    await context.close()
    assert (ARTIFACTS / "inbox.png").stat().st_size > 0 and (ARTIFACTS / "case.png").stat().st_size > 0
