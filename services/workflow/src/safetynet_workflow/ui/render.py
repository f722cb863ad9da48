"""Page rendering: one Jinja environment (autoescaped; every printed string passes the ID-number mask,
so no template can show a full ID number), the language's texts and formatters in every page."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from safetynet_core.masking import mask_text
from safetynet_workflow.ui.csrf import CSRF_FIELD, page_token
from safetynet_workflow.ui.i18n import choice_labeller, date_formatter, lang_of, translator
from safetynet_workflow.ui.links import task_href

TEMPLATES = Path(__file__).parent / "templates"


class Revealed(str):
    """A full ID number intake's audited reveal answered to the user who asked: the one value printed unmasked."""


def _masked(value: Any) -> Any:
    """Mask ID numbers in whatever a template prints (markup stays markup: masking adds no HTML), except a
    `Revealed` number."""
    if isinstance(value, Revealed):
        return value
    if isinstance(value, Markup):
        return Markup(mask_text(str(value)))  # noqa: S704 (already markup; masking adds no HTML)
    return mask_text(value) if isinstance(value, str) else value


def _compact(value: Any, skip: tuple[str, ...] = ()) -> str:
    """A dict or list as short readable text (timeline details), without the `skip` keys."""
    if isinstance(value, dict):
        shown = {k: v for k, v in value.items() if k not in skip and v not in (None, "", [], {})}
        return "; ".join(f"{k}: {_compact(v)}" for k, v in shown.items())
    if isinstance(value, list):
        return ", ".join(_compact(v) for v in value)
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


@pass_context
def csrf_field(context: Context) -> Markup:
    """The hidden CSRF field every `<form method="post">` carries (ui/csrf.py)."""
    return Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(context.get("csrf_token", ""))}">')  # noqa: S704 (escaped)


environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    finalize=_masked,
    trim_blocks=True,
    lstrip_blocks=True,
)
environment.filters["compact"] = _compact
environment.globals["task_href"] = task_href
environment.globals["csrf_field"] = csrf_field


def _code_itself(code: str | None) -> str:
    return code or ""


def region_labeller(request: Request) -> Callable[[str | None], str]:
    """How pages name a region: the service's region directory (its adapters), else the bare code."""
    app = request.scope.get("app")
    directory = getattr(getattr(getattr(app, "state", None), "adapters", None), "regions", None)
    label = getattr(directory, "label", None)
    return label if callable(label) else _code_itself


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render `template` in the caller's language; `region(code)` names regions."""
    lang = lang_of(request)
    t = translator(lang)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    html = environment.get_template(template).render(
        request=request,
        lang=lang,
        t=t,
        choice=choice_labeller(t),
        dt=date_formatter(lang),
        here=here,
        region=region_labeller(request),
        csrf_token=page_token(request),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """A refused or failed page request, in the page's language (the API's message as detail)."""
    return page(request, "error.html", status_code=status_code, message=message)


async def refused_form(request: Request, _: Exception) -> HTMLResponse:
    """The answer to a form post without its CSRF token (`CsrfRefused`): 403, the form has expired."""
    return error_page(request, 403, translator(lang_of(request))("form.expired"))


def api_error_message(body: dict[str, Any]) -> str:
    return "; ".join(str(d.get("msg", "")) for d in body.get("detail", []))
