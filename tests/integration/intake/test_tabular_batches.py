"""CSV and XLSX batches through the real Postgres and Kafka: a medical-insurance XLSX file built from the
downloaded template and a civil-affairs CSV file (GB18030, as Excel saves it) go in through
POST /v1/events:batch; bad rows come back named by row and column, good rows become published events,
and the same file again is all duplicates."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from safetynet_core.contracts import department_payload
from safetynet_intake.tabular import XLSX

pytestmark = pytest.mark.integration
HOUSEHOLD = "H610327101201042"


def _ago(days: int) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def _xlsx(template: bytes, rows: list[list[Any]]) -> bytes:
    """The template's first sheet filled with `rows` under its header."""
    workbook = openpyxl.load_workbook(io.BytesIO(template))
    sheet = workbook.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    assert header[:5] == ["event_id", "household_id", "member_id", "occurred_at", "reference"]
    return out.getvalue()


async def test_a_medical_insurance_xlsx_file_goes_in_row_by_row(start_intake: Any) -> None:
    async with start_intake() as intake:
        template = await intake.get("/v1/templates/medical_expense.xlsx", "medical_insurance")
        assert template.status_code == 200, template.text
        assert template.headers["content-type"] == XLSX
        header = [c.value for c in openpyxl.load_workbook(io.BytesIO(template.content)).worksheets[0][1]]
        assert header[5:] == ["total_cost_cny", "out_of_pocket_cny", "inpatient", "diagnosis_category"]

        # an Excel date-time cell: county local time
        naive_cell = datetime.now().replace(microsecond=0) - timedelta(days=2)
        rows: list[list[Any]] = [
            ["MI-0001", HOUSEHOLD, "M1", naive_cell, "HIS-1", 32000, 12800, True, "cardiovascular"],
            ["MI-0002", HOUSEHOLD, "M2", _ago(5), "HIS-2", "8,000", "6000", "否", None],
            ["MI-0003", HOUSEHOLD, None, _ago(9), None, 1500, None, "true", None],  # out_of_pocket missing
            ["MI-0004", HOUSEHOLD, "M1", _ago(4), None, 900, 300, "maybe", None],  # not a yes/no
            ["MI-0001", HOUSEHOLD, "M1", naive_cell, "HIS-1", 32000, 12800, True, "cardiovascular"],  # repeated
            [],  # a blank row keeps the numbering
            ["MI-0005", HOUSEHOLD, "M3", (datetime.now(UTC) + timedelta(days=3)).isoformat(), None, 10, 10, 0],
            ["MI-0006", HOUSEHOLD, "M3", _ago(1), "HIS-6", 20000.5, 15000, 1, None],
        ]
        body = _xlsx(template.content, rows)
        params = {"type": "medical_expense"}
        headers = {"content-type": XLSX}
        response = await intake.post(
            "/v1/events:batch", "medical_insurance", content=body, params=params, headers=headers
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 3 and result["duplicates"] == 1
        assert [(r["row"], r["line"]) for r in result["rejected"]] == [(4, 4), (5, 5), (8, 8)]
        located = {r["row"]: [tuple(e["loc"]) for e in r["errors"]] for r in result["rejected"]}
        assert located == {4: [("out_of_pocket_cny",)], 5: [("inpatient",)], 8: [("occurred_at",)]}

        messages = await intake.published_messages(3)
        payloads = {m.event_id: department_payload(m.department_event) for _, m in messages}
        assert set(payloads) == {"MI-0001", "MI-0002", "MI-0006"}
        assert payloads["MI-0002"] == {"total_cost_cny": 8000, "out_of_pocket_cny": 6000, "inpatient": False}
        stored = (await intake.get("/v1/events/MI-0001", "medical_insurance")).json()
        assert datetime.fromisoformat(stored["occurred_at"]) == naive_cell.replace(tzinfo=ZoneInfo("Asia/Shanghai"))

        again = await intake.post("/v1/events:batch", "medical_insurance", content=body, params=params, headers=headers)
        assert again.status_code == 200, again.text
        assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 4)


async def test_a_civil_affairs_csv_file_goes_in_row_by_row(start_intake: Any) -> None:
    async with start_intake() as intake:
        template = await intake.get("/v1/templates/self_application.csv", "civil_affairs")
        assert template.status_code == 200, template.text
        header = next(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
        assert header[5:] == ["reasons", "declared_annual_income_cny", "statement"]

        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(header)
        writer.writerow(
            ["CA-01", HOUSEHOLD, "", _ago(2), "MZ-1", "illness；disability", "7200", "父亲住院，\n母亲残疾"]
        )
        writer.writerow(["CA-02", HOUSEHOLD, "", _ago(2), "MZ-2", "flying", "", "理由"])  # not a risk type
        writer.writerow(["", HOUSEHOLD, "", _ago(2), "MZ-3", "housing", "", "房屋漏雨"])  # no event_id
        writer.writerow(["CA-04", HOUSEHOLD, "", "2026-13-45", "MZ-4", "housing", "", "日期错误"])
        writer.writerow(["CA-05", HOUSEHOLD, "", _ago(1)[:19], "MZ-5", "education、illness", "", "学费"])
        body = out.getvalue().encode("gb18030")
        response = await intake.post(
            "/v1/events:batch",
            "civil_affairs",
            content=body,
            params={"type": "self_application"},
            headers={"content-type": "text/csv"},
        )
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["accepted"] == 2 and result["duplicates"] == 0
        located = {r["row"]: [tuple(e["loc"]) for e in r["errors"]] for r in result["rejected"]}
        assert located == {3: [("reasons", 0)], 4: [("event_id",)], 5: [("occurred_at",)]}

        messages = await intake.published_messages(2)
        payloads = {m.event_id: department_payload(m.department_event) for _, m in messages}
        assert payloads["CA-01"]["reasons"] == ["illness", "disability"]
        assert payloads["CA-01"]["statement"] == "父亲住院，\n母亲残疾"
        assert payloads["CA-05"]["reasons"] == ["education", "illness"]


async def test_file_level_problems_answer_for_the_whole_file(start_intake: Any) -> None:
    async with start_intake(batch_max_lines=2) as intake:
        csv_headers = {"content-type": "text/csv; charset=utf-8"}
        header = "event_id,household_id,occurred_at,out_of_pocket_cny,stage\n"
        row = f"E-{{}},{HOUSEHOLD},{_ago(1)},100,university\n"
        missing_type = await intake.post("/v1/events:batch", "education", content=header + row, headers=csv_headers)
        assert missing_type.status_code == 422
        assert missing_type.json()["detail"][0]["loc"] == ["query", "type"]

        params = {"type": "education_expense"}
        unknown = await intake.post(
            "/v1/events:batch", "education", content="event_id,colour\nE1,red\n", params=params, headers=csv_headers
        )
        assert unknown.status_code == 422
        locs = [tuple(e["loc"]) for e in unknown.json()["detail"]]
        assert ("body", "header", 2) in locs and ("body", "header", "household_id") in locs

        too_many = header + "".join(row.format(i) for i in range(3))
        limited = await intake.post(
            "/v1/events:batch", "education", content=too_many, params=params, headers=csv_headers
        )
        assert limited.status_code == 413

        not_xlsx = await intake.post(
            "/v1/events:batch", "education", content=b"PK\x03\x04 nope", params=params, headers={"content-type": XLSX}
        )
        assert not_xlsx.status_code == 422 and not_xlsx.json()["detail"][0]["loc"] == ["body"]

        forbidden = await intake.post(
            "/v1/events:batch",
            "education",
            content=header + row.format(1),
            params={"type": "housing_safety"},
            headers=csv_headers,
        )
        assert forbidden.status_code == 422  # the header does not fit housing_safety

        unknown_template = await intake.get("/v1/templates/bogus.xlsx", "education")
        assert unknown_template.status_code == 404
        anonymous = await intake.http.get(f"{intake.url}/v1/templates/death.csv")
        assert anonymous.status_code == 401
