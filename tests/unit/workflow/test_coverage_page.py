"""The case page's coverage gaps: each gap named in the reader's language, with the member and since when."""

from __future__ import annotations

from starlette.requests import Request

from safetynet_workflow.ui.i18n import LANG_COOKIE, Lang
from safetynet_workflow.ui.render import page

GAPS: list[dict[str, object]] = [
    {"member_id": "M2", "name": "李四", "gap": "basic_medical", "reason": "reported", "since": "2027-01-01"},
    {"member_id": None, "name": None, "gap": "employment", "reason": "reported", "since": "2027-02-10"},
]


def shown(lang: Lang, gaps: list[dict[str, object]]) -> str:
    cookie = f"{LANG_COOKIE}={lang.value}".encode()
    request = Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": [(b"cookie", cookie)]}
    )
    return bytes(page(request, "_coverage.html", case={"coverage_gaps": gaps}).body).decode()


def test_the_case_page_lists_its_coverage_gaps() -> None:
    medical, employment = shown(Lang.EN, GAPS).split('data-gap="employment"')
    assert "Insurance and employment gaps" in medical
    assert 'data-member="M2"' in medical and "Not in basic medical insurance · 李四" in medical
    assert "reported by the department · since 2027-01-01" in medical
    assert "Able to work, nobody employed" in employment and "since 2027-02-10" in employment
    assert "未参加基本医疗保险 · 李四 · 部门报告 · 自 2027-01-01" in shown(Lang.ZH, GAPS)
    assert "coverage-gaps" not in shown(Lang.ZH, [])
