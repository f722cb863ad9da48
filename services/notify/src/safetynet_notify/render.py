"""Messages from Jinja2 templates, one per event name and locale (zh-CN, en), with local due times."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from safetynet_core.masking import mask_text
from safetynet_notify.events import CaseEvent

LOCALES = ("zh-CN", "en")
_BABEL_LOCALE = {"zh-CN": "zh_Hans_CN", "en": "en"}
_DUE_FORMAT = {"zh-CN": "yyyy年M月d日 HH:mm", "en": "d MMM yyyy, HH:mm"}
_TZ_LABEL = {"zh-CN": "北京时间", "en": "China Standard Time"}

LABELS: dict[str, dict[str, str]] = {
    "zh-CN": {
        "screen": "筛查",
        "home_visit": "入户核实",
        "township_review": "乡镇审核",
        "county_approval": "县级审定",
        "assistance_plan": "帮扶计划",
        "measure": "帮扶措施落实",
        "review": "月度评估",
        "inspection": "抽样核查",
        "notice": "公示",
        "verify": "从严核",
        "assist": "精准帮",
        "evaluate": "评估销",
        "close": "销号",
        "grid_worker": "网格员",
        "village_cadre": "村干部",
        "township_officer": "乡镇干部",
        "county_officer": "县级干部",
        "department_officer": "部门干部",
        "auditor": "核查员",
        "admin": "管理员",
        "screening": "筛查中",
        "verifying": "核实中",
        "assisting": "帮扶中",
        "evaluating": "评估中",
        "closed": "已关闭",
        "risk_eliminated": "风险消除",
        "not_eligible": "不符合条件",
        "natural": "自然消除",
        "duplicate": "重复",
        "dismissed": "筛查不予纳入",
    },
    "en": {
        "screen": "screening",
        "home_visit": "home visit",
        "township_review": "township review",
        "county_approval": "county approval",
        "assistance_plan": "assistance plan",
        "measure": "assistance measure",
        "review": "monthly review",
        "inspection": "sampling inspection",
        "notice": "public notice",
        "verify": "verification",
        "assist": "assistance",
        "evaluate": "evaluation",
        "close": "closing",
        "grid_worker": "grid worker",
        "village_cadre": "village cadre",
        "township_officer": "township officer",
        "county_officer": "county officer",
        "department_officer": "department officer",
        "auditor": "auditor",
        "admin": "administrator",
        "screening": "screening",
        "verifying": "verifying",
        "assisting": "assisting",
        "evaluating": "evaluating",
        "closed": "closed",
        "risk_eliminated": "risk eliminated",
        "not_eligible": "not eligible",
        "natural": "natural closure",
        "duplicate": "duplicate",
        "dismissed": "dismissed at screening",
    },
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    sms: str


def normalize_locale(locale: str | None, default: str = "zh-CN") -> str:
    if not locale:
        return default
    lowered = locale.replace("_", "-").lower()
    if lowered.startswith("zh"):
        return "zh-CN"
    if lowered.startswith("en"):
        return "en"
    return default


class Renderer:
    """Renders the subject, body and SMS text of an event for one locale."""

    def __init__(self, public_base_url: str, timezone: str = "Asia/Shanghai") -> None:
        self._base = public_base_url.rstrip("/")
        self._tz = ZoneInfo(timezone)
        self._env = Environment(
            loader=PackageLoader("safetynet_notify", "templates"),
            undefined=StrictUndefined,
            autoescape=False,  # noqa: S701 (plain-text mail and SMS, never HTML)
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def link(self, case_id: str) -> str:
        return f"{self._base}/cases/{case_id}"

    def local_time(self, moment: datetime | None, locale: str) -> str | None:
        if moment is None:
            return None
        text = format_datetime(moment, _DUE_FORMAT[locale], tzinfo=self._tz, locale=_BABEL_LOCALE[locale])
        return f"{text} ({_TZ_LABEL[locale]})"

    def context(self, event: CaseEvent, locale: str) -> dict[str, Any]:
        labels = LABELS[locale]

        def label(value: str | None) -> str | None:
            return labels.get(value, value) if value else None

        task = event.task
        return {
            "event": event.name,
            "case_id": event.case_id,
            "household_id": event.household_id,
            "region_code": event.task_region,
            # The region's name when workflow sent one (case events name their regions), else its code.
            "region": str(event.details.get("task_region_label") or event.details.get("region_label") or "")
            or event.task_region,
            "step": label(event.step),
            "status": label(event.status),
            "close_reason": label(event.close_reason),
            "link": self.link(event.case_id),
            "kind": label(task.kind) if task else None,
            "role": label(task.role) if task else None,
            "department": task.department if task else None,
            "assignee": task.assignee if task else None,
            "due": self.local_time(task.due_at if task else None, locale),
            "level": event.escalation_level,
        }

    def _template(self, event_name: str, locale: str) -> Template:
        return self._env.get_template(f"{locale}/{event_name}.j2")

    def render(self, event: CaseEvent, locale: str) -> Rendered:
        locale = normalize_locale(locale)
        template = self._template(event.name, locale)
        ctx = template.new_context(self.context(event, locale))

        def block(name: str) -> str:
            return mask_text("".join(template.blocks[name](ctx)).strip())

        return Rendered(subject=block("subject"), body=block("body"), sms=block("sms"))
