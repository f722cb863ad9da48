"""Masking in one place (safetynet_core.masking) and log lines: valid JSON, masked, tracebacks included."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from datetime import date

from safetynet_core.logging import mask_id_numbers as mask_id_numbers_from_logging
from safetynet_core.masking import (
    mask_birth_date,
    mask_id_number,
    mask_id_numbers,
    mask_personal_data,
    mask_phone,
    mask_text,
)

ID_NUMBER = "61032719800101123X"
BIRTH_DATE = "1980-01-01"
PHONE = "13800138000"
# What must never be written: more than the last four characters of the ID, the full birth date (also as
# the digits inside the ID), or more than the last four digits of the phone.
LEAKS = re.compile(r"61032719|19800101|1980-01-01|1380013")


def test_id_numbers_keep_only_their_last_four_characters() -> None:
    """The finding: the old mask kept characters 1-6 and 15-18; with the birth date shown beside it,
    the hidden eight were the birth date, so the number could be rebuilt."""
    assert mask_id_number(ID_NUMBER) == "**************123X"
    assert mask_id_numbers(f"member {ID_NUMBER} called") == "member **************123X called"
    assert mask_id_numbers("old mask 610327********123X") == "old mask **************123X"
    assert mask_id_numbers("15-digit 610327800101123 and card 6222021234567890123") == (
        "15-digit ***********1123 and card ***************0123"
    )
    assert mask_id_numbers("region 610327101201, count 1234567") == "region 610327101201, count 1234567"
    assert mask_id_numbers("身份证610327198001011234号") == "身份证**************1234号"
    # identifiers made of letters and digits stay whole: household ids, hex case ids
    for identifier in ("H6103271012010001", "C0123456789012345678ab", "H610327101201001"):
        assert mask_text(f"household {identifier} ok") == f"household {identifier} ok"
    assert mask_id_numbers_from_logging is mask_id_numbers  # the name the workflow UI imports keeps working


def test_phones_keep_their_last_four_digits_and_birth_dates_their_year() -> None:
    assert mask_phone(PHONE) == "*******8000"
    assert mask_phone("+86 138-0013-8000") == "+** ***-****-8000"
    assert mask_phone(None) is None
    assert mask_text(f"call {PHONE} or 029-87654321, id {ID_NUMBER}") == (
        "call *******8000 or ***-****4321, id **************123X"
    )
    assert mask_birth_date(BIRTH_DATE) == "1980"
    assert mask_birth_date(date(1980, 1, 1)) == "1980"


def test_a_household_record_is_masked_by_field_name_and_in_free_text() -> None:
    record = {
        "household_id": "H1",
        "region_code": "610327101201",
        "phone": PHONE,
        "annual_net_income_cny": 8000,
        "members": [
            {"member_id": "M1", "id_number_masked": "610327********123X", "birth_date": BIRTH_DATE, "in_school": False},
            {"member_id": "M2", "id_number": ID_NUMBER, "birth_date": "2010-02-02", "notes": f"mother {PHONE}"},
        ],
    }
    masked = mask_personal_data(record)
    assert masked["members"][0] == {
        "member_id": "M1", "id_number_masked": "**************123X", "birth_date": "1980", "in_school": False,
    }
    assert masked["members"][1]["id_number"] == "**************123X"
    assert masked["members"][1]["birth_date"] == "2010" and masked["members"][1]["notes"] == "mother *******8000"
    assert masked["phone"] == "*******8000" and masked["region_code"] == "610327101201"
    assert not LEAKS.search(json.dumps(masked))


LOGGING_SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, threading
    import httpx, uvicorn
    from safetynet_core.logging import configure_logging, get_logger

    ID, PHONE = "61032719800101123X", "13800138000"

    async def app(scope, receive, send):
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        raise ValueError(f"household member {ID} phone {PHONE}")

    def factory():
        configure_logging("test", "INFO", True)
        return app

    async def main():
        config = uvicorn.Config(factory, factory=True, host="127.0.0.1", port=0, lifespan="on")
        server = uvicorn.Server(config)  # uvicorn has configured its own handlers by now, as under `uvicorn`
        task = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/x")
        log = get_logger("test")
        log.info("registry_record", id_number=ID, birth_date="1980-01-01", phone=PHONE, note=f'"{ID}"\\n')
        logging.getLogger("asyncio").warning('quote " and id %s', ID)
        try:
            {}[ID]
        except KeyError:
            log.exception("lookup_failed")
            logging.getLogger("x").exception("stdlib lookup failed for %s", PHONE)
        thread = threading.Thread(target=lambda: 1 / 0 if ID else None)
        thread.start(); thread.join()
        server.should_exit = True
        await task

    asyncio.run(main())
    raise RuntimeError(f"uncaught {ID}")
    """
)


def test_every_log_line_is_masked_json_tracebacks_and_uvicorn_included() -> None:
    """The finding: tracebacks and uvicorn's own error lines bypassed the mask, phones were not masked and
    standard-library lines were not valid JSON."""
    run = subprocess.run(
        [sys.executable, "-c", LOGGING_SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )
    output = run.stdout + run.stderr
    lines = [line for line in output.splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError as exc:
            raise AssertionError(f"not JSON: {line!r}\n{output}") from exc
    events = {r["event"].strip() for r in records}
    assert {"Exception in ASGI application", "registry_record", "lookup_failed", "uncaught exception"} <= events, output
    assert any("uncaught exception in thread" in e for e in events), output
    tracebacks = [r["exception"] for r in records if "exception" in r]
    assert len(tracebacks) >= 5 and all("Traceback" in t for t in tracebacks), output
    assert "**************123X" in output and "*******8000" in output
    assert not LEAKS.search(output), LEAKS.findall(output)
