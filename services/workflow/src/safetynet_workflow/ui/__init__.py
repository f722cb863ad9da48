"""What every page of the case-worker web UI shares (server-rendered Jinja2, a little plain JS, no build
step, nothing fetched from the internet): rendering, the session, languages, links, forms made from the
API's models, list and record pages, and the UI's static files (the route below).

The pages themselves live with their domain (`tasks/pages.py`, `cases/pages.py`, `sweeps/pages.py`,
...). To add a page family: an `APIRouter` in `<domain>/pages.py` whose handlers take `UiPrincipal`
(login redirect), call the domain's store or service for data (their `ApiError` becomes `error_page`)
and return `page(request, "<template>.html", **context)`; a template in `ui/templates/` extending
`base.html` (`t("key")` texts, `dt(value)` times); texts in `messages.yaml` under both languages; the
router in `registry.PAGE_ROUTERS` and, if it needs one, a link in `base.html`'s nav."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter
from fastapi import Path as PathParam
from fastapi.responses import FileResponse

from safetynet_core.errors import ApiError

STATIC = Path(__file__).parent / "static"
# Browser libraries installed from the npm registry by deploy/local/ui_assets.sh (not in git).
VENDOR = STATIC / "vendor"

router = APIRouter()


def _file(folder: Path, name: str, max_age: int) -> FileResponse:
    path = folder / name
    if not path.is_file():
        raise ApiError(404, f"no static file {name} (browser libraries: deploy/local/ui_assets.sh)", ["path", "name"])
    return FileResponse(path, headers={"Cache-Control": f"public, max-age={max_age}"})


@router.get("/static/ui/{name}")
async def static_file(name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]+\.(css|js)$")]) -> FileResponse:
    """The UI's own CSS and JS (a fixed folder; the name pattern allows no path)."""
    return _file(STATIC, name, 300)


@router.get("/static/vendor/{name}")
async def vendor_file(name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]+(\.min)?\.js$")]) -> FileResponse:
    """A browser library the setup installed (Apache ECharts)."""
    return _file(VENDOR, name, 86400)


__all__ = ["router"]
