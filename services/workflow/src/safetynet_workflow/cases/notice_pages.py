"""Public notices (公示): the villages with households on notice, and a printable page per village
showing only what a notice may show (case, category, step, end date; never ID numbers, phones, bank
or health data). The data is the case store's running notices (as for `GET /v1/notices`)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from safetynet_core.errors import ApiError
from safetynet_core.web import listing_region
from safetynet_workflow.cases.api import CaseStoreDep
from safetynet_workflow.ui.render import api_error_message, error_page, page
from safetynet_workflow.ui.session import UiPrincipal

router = APIRouter()
NOTICE_FIELDS = ("case_id", "category", "step", "notice_until")
VILLAGE_CODE = r"^\d{12}$"


@router.get("/notices")
async def notices_index(request: Request, principal: UiPrincipal, store: CaseStoreDep) -> Response:
    running = await store.notices(listing_region(principal, None), datetime.now(UTC))
    villages = sorted(Counter(n["region_code"] for n in running).items())
    return page(request, "notices.html", principal=principal, villages=villages)


@router.get("/notices/{village}")
async def notice_print(
    village: Annotated[str, Path(pattern=VILLAGE_CODE)], request: Request, principal: UiPrincipal, store: CaseStoreDep
) -> Response:
    try:
        running = await store.notices(listing_region(principal, village), datetime.now(UTC))
    except ApiError as exc:
        return error_page(request, exc.status, api_error_message(exc.body))
    rows = [{k: n[k] for k in NOTICE_FIELDS} for n in running if n["region_code"] == village]
    return page(request, "notice_print.html", village=village, rows=rows, printed_at=datetime.now(UTC))
