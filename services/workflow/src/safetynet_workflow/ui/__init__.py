"""The case-worker web UI, served by the workflow service from `/` (server-rendered Jinja2, a little
plain JS, no build step, nothing fetched from the internet).

Layout, and how to add a page family (sweeps, corrections, data quality, ledger ...):
- `<area>_pages.py`: an `APIRouter` whose handlers take `UiPrincipal` (login redirect), call the JSON
  API's own handler functions for data (same queries and scoping; their `ApiError` becomes
  `error_page`) and return `page(request, "<template>.html", **context)`;
- `templates/<template>.html` extending `base.html` (`t("key")` texts, `dt(value)` times);
- texts in `messages.yaml` under both languages; task forms come from `forms.py` via `taskforms.py`;
- include the router in `PAGE_ROUTERS` below and, if it needs one, add a link in `base.html`'s nav.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from safetynet_core.errors import ApiError
from safetynet_workflow.ui import (
    auth_pages,
    case_pages,
    correction_pages,
    ledger_pages,
    notice_pages,
    quality_pages,
    sweep_pages,
)

STATIC = Path(__file__).parent / "static"
PAGE_ROUTERS = (
    auth_pages.router,
    case_pages.router,
    notice_pages.router,
    sweep_pages.router,
    correction_pages.router,
    ledger_pages.router,
    quality_pages.router,
)

router = APIRouter(include_in_schema=False)
for page_router in PAGE_ROUTERS:
    router.include_router(page_router)


@router.get("/static/ui/{name}")
async def static_file(name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]+\.(css|js)$")]) -> FileResponse:
    """The UI's own CSS and JS (a fixed folder; the name pattern allows no path)."""
    path = STATIC / name
    if not path.is_file():
        raise ApiError(404, f"no static file {name}", ["path", "name"])
    return FileResponse(path, headers={"Cache-Control": "public, max-age=300"})


__all__ = ["router"]
