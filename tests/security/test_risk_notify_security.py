"""Risk and notify: region scoping holds for their reads (every route is walked in test_route_walk.py)."""

from __future__ import annotations

from typing import Any

import pytest

from safetynet_notify.info import SERVICE as NOTIFY
from safetynet_notify.main import create_app as create_notify
from safetynet_notify.settings import Settings as NotifySettings
from safetynet_risk.info import SERVICE as RISK
from safetynet_risk.main import create_app as create_risk
from safetynet_risk.settings import Settings as RiskSettings
from tests.security.conftest import StartService
from tests.security.support import (
    OTHER_VILLAGE,
    VILLAGE,
    token_for,
)

pytestmark = pytest.mark.integration


async def test_risk_routes_need_a_token_and_stay_in_region(start_service: StartService) -> None:
    async with start_service(RISK, RiskSettings, create_risk, consumer_enabled=False) as risk:
        outsider = token_for(risk.settings, "village_cadre", OTHER_VILLAGE)
        for household in ("H1", "%", "H%25"):
            response = await risk.http.get(f"/v1/households/{household}/risk", headers=outsider)
            assert response.status_code == 404, (household, response.text)


async def test_notify_routes_need_a_token_and_stay_in_region(start_service: StartService) -> None:
    async with start_service(NOTIFY, NotifySettings, create_notify, notify_allowed_networks="127.0.0.0/8") as notify:
        county = token_for(notify.settings, "county_officer", VILLAGE[:6])
        outsider = token_for(notify.settings, "county_officer", OTHER_VILLAGE[:4] + "99")

        def subscription(region_prefix: str) -> dict[str, Any]:
            hook = {"url": "http://127.0.0.1:9/hook", "secret": "s" * 16, "events": ["case.opened"]}
            return {**hook, "region_prefix": region_prefix}

        created = await notify.http.post("/v1/subscriptions", headers=county, json=subscription(VILLAGE[:6]))
        assert created.status_code == 201, created.text
        other_county = OTHER_VILLAGE[:4] + "99"
        outside = await notify.http.post("/v1/subscriptions", headers=county, json=subscription(other_county))
        assert outside.status_code in (403, 422), outside.text
        listed = await notify.http.get("/v1/subscriptions", headers=outsider)
        assert listed.status_code in (200, 403) and created.json()["subscription_id"] not in listed.text
        deleted = await notify.http.delete(f"/v1/subscriptions/{created.json()['subscription_id']}", headers=outsider)
        assert deleted.status_code in (403, 404), deleted.text
