"""The JSON response every service returns (orjson-encoded), and the one that masks personal data first."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse

from safetynet_core.masking import mask_personal_data


class JsonResponse(JSONResponse):
    """A JSONResponse (so FastAPI documents routes' response models) rendered by orjson."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


class MaskedJsonResponse(JsonResponse):
    """A JSON answer with personal data masked (`mask_personal_data`): for routes whose answers carry what case
    workers typed (forms, notes, reasons), which may hold ID numbers or phones."""

    def render(self, content: Any) -> bytes:
        return super().render(mask_personal_data(content))
