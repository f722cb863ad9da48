"""The field-operations pages in Debian's chromium (Playwright, headless, phone width): a township officer
launches a sweep and sees its progress, files a registry correction (one rejected with errors next to
its fields) and decides its review task, enters a ledger finding and sees its deadline, and finds a
household flagged for a duplicate ID number on the data-quality page; English works. Screenshots go to
tests/e2e/artifacts/.

Intake, risk and workflow run in-process on fresh topics and schemas (the field-ops integration stack):
households are registered through intake, so the workflow's directory and intake's quality checks see
them as in production."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.async_api import Browser, Page

from safetynet_core.testing import eventually, unique
from tests.e2e.browser.test_case_worker_ui import ARTIFACTS, PHONE, browser, fits_phone
from tests.integration.fieldops.conftest import (
    PASSWORD,
    Stack,
    StartStack,
    assessment,
    household_record,
    start_stack,
)

pytestmark = pytest.mark.e2e
__all__ = ["browser", "start_stack"]  # fixtures used here

TOWNSHIP, VILLAGE = "610327101", "610327101201"
LOW_INCOME, COMFORTABLE = 15000.0, 60000.0  # two members: 7,500 per head is within the 8,500 line
LEDGER_DAYS = 15  # policy workflow.tasks.rectification.sla_days
CHINA = ZoneInfo("Asia/Shanghai")


@dataclass
class Site:
    stack: Stack
    url: str
    low: tuple[str, str]  # targeted by the default sweep rule
    duplicates: tuple[str, str]  # share an ID number
    shared_id_number: str


@pytest.fixture
async def site(start_stack: StartStack) -> AsyncIterator[Site]:
    """Four households of one village registered through intake: two with low income, two sharing a
    member's ID number; a township officer."""
    async with start_stack() as stack:
        grid = unique("G")
        low = (unique("H"), unique("H"))
        duplicates = (unique("H"), unique("H"))
        records = [household_record(h, VILLAGE, grid, LOW_INCOME) for h in low]
        first, second = (household_record(h, VILLAGE, grid, COMFORTABLE) for h in duplicates)
        second["members"][0]["id_number"] = first["members"][0]["id_number"]
        for record in [*records, first, second]:
            await stack.put_household(record)
        await stack.workflow.user("township", "township_officer", TOWNSHIP)
        await stack.workflow.wait_for_households({*low, *duplicates})
        shared = first["members"][0]["id_number"]
        yield Site(stack, str(stack.workflow.http.base_url).rstrip("/"), low, duplicates, shared)


async def log_in(page: Page, site: Site) -> None:
    await page.goto(f"{site.url}/sweeps")
    await page.fill("#username", "township")
    await page.fill("#password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_url(f"{site.url}/sweeps")


async def facts_when(page: Page, expected: dict[str, str], message: str) -> None:
    """Reload the record page until its facts show `expected` (the workflow fills them in)."""

    async def shown() -> bool:
        await page.reload()
        facts = {k: await page.inner_text(f"[data-fact={k}]") for k in expected}
        return facts == expected

    await eventually(shown, timeout=30, interval=0.5, message=message)


async def launch_sweep(page: Page, site: Site) -> None:
    await page.click("#new-sweeps")
    assert await page.input_value("#f-region_code") == TOWNSHIP  # prefilled with the officer's own region
    await page.click("#form-sweeps button[type=submit]")
    assert await page.inner_text("[data-error-for=kind]") == "必填"
    await page.select_option("#f-kind", "concentrated")
    await page.click("#form-sweeps button[type=submit]")
    await page.wait_for_url("**/sweeps/S*")
    progress = {"status": "进行中", "targeted": "2", "visited": "0", "due": "2", "overdue": "0"}
    await facts_when(page, progress, "sweep running with its two visits")
    assert await fits_phone(page)
    await page.click(".back a")
    row = page.locator("#sweeps tbody tr").first
    assert await row.locator("[data-col=kind]").inner_text() == "集中排查"
    assert await row.locator("[data-col=due]").inner_text() == "2"
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "sweeps.png"), full_page=True)


async def file_correction(page: Page, site: Site) -> None:
    household = site.low[0]
    await page.click("#nav-corrections")
    await page.click("#new-corrections")
    form = "#form-corrections"
    await page.fill(f"{form} #f-household_id", household)
    await page.select_option(f"{form} #f-field", "annual_net_income_cny")
    await page.fill(f"{form} #f-value", "about twenty thousand")
    await page.fill(f"{form} #f-reason", "收入核实有误")
    await page.click(f"{form} button[type=submit]")
    assert await page.inner_text("[data-error-for=evidence]") == "数量或长度不足"
    assert await page.input_value(f"{form} #f-reason") == "收入核实有误"  # kept

    await page.fill(f"{form} #f-evidence-0-kind", "certificate")
    await page.fill(f"{form} #f-evidence-0-reference", "村委会收入证明 2026-11")
    await page.click(f"{form} button[type=submit]")
    assert await page.inner_text("[data-error-for=value]") == "取值与所选字段不符"
    await page.fill(f"{form} #f-value", "20000")
    await page.click(f"{form} button[type=submit]")
    await page.wait_for_url("**/corrections/R*")
    assert await page.inner_text("[data-fact=field]") == "家庭年纯收入"
    assert await page.inner_text("[data-fact=registry_value]") == "15000"

    async def review_task() -> bool:
        await page.reload()
        return await page.locator("#tasks tr[data-kind=correction_review] a.work-task").count() == 1

    await eventually(review_task, timeout=30, interval=0.5, message="the correction's review task")
    correction_url = page.url
    await page.click("#nav-corrections")
    row = page.locator(f"#corrections tr[data-household='{household}']")
    assert await row.locator("[data-col=status]").inner_text() == "乡镇审核中"
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "corrections.png"), full_page=True)

    await page.goto(f"{site.url}/inbox")  # the review task is in the inbox and opens its task page
    await page.click("#inbox tr[data-kind=correction_review] a.open-case")
    await page.select_option("#form-correction_review select[name=decision]", "approve")
    await page.click("#form-correction_review button[type=submit]")
    await page.wait_for_url(correction_url)
    await facts_when(page, {"status": "县级审批中"}, "the correction awaits county approval")


async def enter_finding(page: Page, site: Site) -> None:
    reference = unique("AUD")
    await page.click("#nav-ledger")
    await page.click("#new-ledger")
    form = "#form-ledger"
    await page.select_option(f"{form} #f-source", "audit")
    await page.fill(f"{form} #f-source_ref", reference)
    await page.fill(f"{form} #f-region_code", VILLAGE)
    await page.fill(f"{form} #f-problem", "帮扶措施未落实到户")
    await page.fill(f"{form} #f-household_id", site.low[1])
    await page.click(f"{form} button[type=submit]")
    await page.wait_for_url("**/ledger?recorded=*")
    row = page.locator(f"#ledger tr[data-household='{site.low[1]}']")

    async def listed_with_deadline() -> str:
        await page.reload()
        return await row.locator("[data-col=due_at]").inner_text() if await row.count() == 1 else ""

    due = await eventually(listed_with_deadline, timeout=30, interval=0.5, message="finding with its deadline")
    expected = datetime.now(UTC) + timedelta(days=LEDGER_DAYS)
    assert abs(datetime.strptime(due, "%Y-%m-%d %H:%M").replace(tzinfo=CHINA) - expected) < timedelta(hours=1)
    assert await row.locator("[data-col=status]").inner_text() == "整改中"
    assert await row.locator("[data-col=owner_role]").inner_text() == "乡镇干部"
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "ledger.png"), full_page=True)

    await page.goto(f"{site.url}/ledger/new")  # the same audit reference twice is refused at its field
    await page.select_option(f"{form} #f-source", "audit")
    await page.fill(f"{form} #f-source_ref", reference)
    await page.fill(f"{form} #f-problem", "again")
    await page.click(f"{form} button[type=submit]")
    assert await page.inner_text("[data-error-for=source_ref]") == "已存在"


async def data_quality(page: Page, site: Site) -> None:
    await page.click("#nav-quality")
    await page.click("#filters a[data-filter=duplicate]")
    for household in site.duplicates:
        row = page.locator(f"#quality tr[data-household='{household}']")
        assert await row.locator("[data-col=check]").inner_text() == "重复"
        assert await row.locator("[data-col=status]").inner_text() == "待处理"
    assert await page.locator("#quality tbody tr").count() == 2
    assert site.shared_id_number not in await page.content()
    assert await fits_phone(page)

    await page.click("#lang-switch")
    await page.wait_for_selector("html[lang=en]")
    assert await page.inner_text("h1") == "Data quality"
    assert await page.locator("#quality [data-col=check]").all_inner_texts() == ["Duplicate", "Duplicate"]
    await page.screenshot(path=str(ARTIFACTS / "data_quality.png"), full_page=True)


async def case_shows_the_registry_record(page: Page, site: Site) -> None:
    """A flagged household's case page shows its registry members from intake, ID numbers masked."""
    household = site.duplicates[0]
    workflow = site.stack.workflow
    await workflow.assess(household, assessment(household, VILLAGE))

    async def case_id() -> str | None:
        response = await workflow.http.get("/v1/cases", headers=await workflow.auth("township"))
        return next((c["case_id"] for c in response.json()["cases"] if c["household_id"] == household), None)

    opened = await eventually(case_id, timeout=30, interval=0.5, message="the flagged household's case")
    await page.goto(f"{site.url}/cases/{opened}")
    registry = page.locator("#registry")
    assert await registry.locator("h2").inner_text() == "Household members (registry)"
    members = registry.locator("table.members tbody tr")
    assert await members.count() == 2
    assert "Member 0" in await members.first.inner_text()
    masked = await members.first.locator("td.id-number").inner_text()
    assert masked.endswith(site.shared_id_number[-4:]) and "*" in masked
    assert site.shared_id_number not in await page.content()
    assert await fits_phone(page)
    await page.screenshot(path=str(ARTIFACTS / "case_registry.png"), full_page=True)


async def test_township_officer_runs_field_operations_in_the_ui(site: Site, browser: Browser) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport=PHONE)
    page = await context.new_page()
    await log_in(page, site)
    await launch_sweep(page, site)
    await file_correction(page, site)
    await enter_finding(page, site)
    await data_quality(page, site)
    await case_shows_the_registry_record(page, site)
    await context.close()
    for name in ("sweeps", "corrections", "ledger", "data_quality", "case_registry"):
        assert (ARTIFACTS / f"{name}.png").stat().st_size > 0
