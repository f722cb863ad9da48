"""Workflow: JWTs without PII that expire, hashed passwords, region scoping on every id and filter, and the
append-only audit log of a case's state changes (every route is walked in test_route_walk.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import jwt
import pytest
from google.protobuf import json_format

from safetynet_core.auth import JWT_AUDIENCE
from safetynet_core.contracts import RiskAssessmentMessage
from safetynet_core.kafka import make_producer
from safetynet_core.keys import signing_key
from safetynet_core.testing import eventually, unique
from tests.security.support import (
    OTHER_VILLAGE,
    PASSWORD,
    USERS,
    VILLAGE,
    Running,
)

pytestmark = pytest.mark.integration


def flagged_assessment(household_id: str) -> bytes:
    message = json_format.ParseDict(
        {
            "schemaVersion": 1,
            "assessmentId": uuid.uuid4().hex,
            "householdId": household_id,
            "regionCode": VILLAGE,
            "category": "marginal",
            "level": "critical",
            "score": 85,
            "riskTypes": ["disaster"],
            "warnings": ["housing_unsafe"],
            "opensCase": True,
            "policyVersion": "test",
            "eventIds": [uuid.uuid4().hex],
            "assessedAt": datetime.now(UTC).isoformat(),
        },
        RiskAssessmentMessage(),
    )
    return message.SerializeToString()


async def open_case(workflow: Running) -> tuple[dict[str, Any], dict[str, str]]:
    """Publish a flagged assessment; returns the village screen task once the cadre sees it."""
    household = unique("H")
    producer = make_producer(workflow.settings)
    await producer.start()
    try:
        await producer.send_and_wait(
            workflow.settings.topic_risk_assessments, flagged_assessment(household), key=household.encode()
        )
    finally:
        await producer.stop()
    cadre = await workflow.login("cadre")

    async def screen_task() -> dict[str, Any]:
        tasks = (await workflow.http.get("/v1/tasks", headers=cadre, params={"kind": "screen"})).json()["tasks"]
        return next((t for t in tasks if t["household_id"] == household), {})

    return await eventually(screen_task, timeout=45, message="screen task opened"), cadre


async def test_tokens_carry_no_pii_and_expire(workflow: Running) -> None:
    await workflow.db.execute(
        "update users set email = 'li@example.cn', phone = '13800000000' where username = 'cadre'"
    )
    token = (await workflow.login("cadre"))["Authorization"].removeprefix("Bearer ")
    key = signing_key(workflow.settings)
    claims = jwt.decode(token, key.public.key, algorithms=[key.algorithm], audience=JWT_AUDIENCE)
    assert set(claims) <= {"sub", "role", "region", "dept", "aud", "iss", "iat", "exp", "jti", "sid"}
    assert "li@example.cn" not in str(claims) and "13800000000" not in str(claims)
    assert 0 < claims["exp"] - claims["iat"] <= workflow.settings.jwt_ttl_minutes * 60
    expired = jwt.encode({**claims, "iat": 0, "exp": 1}, key.key, algorithm=key.algorithm, headers={"kid": key.kid})
    response = await workflow.http.get("/v1/tasks", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["detail"][0]["loc"] == ["header", "Authorization"]
    forged = jwt.encode(claims, "not-the-secret-but-long-enough-0123456789", algorithm="HS256")
    assert (await workflow.http.get("/v1/tasks", headers={"Authorization": f"Bearer {forged}"})).status_code == 401


async def test_passwords_are_stored_hashed(workflow: Running) -> None:
    rows = await workflow.db.fetch("select username, password_hash from users")
    assert {r["username"] for r in rows} == set(USERS)
    for row in rows:
        assert row["password_hash"].startswith("$argon2id$") and PASSWORD not in row["password_hash"]
    wrong = await workflow.http.post("/v1/auth/token", data={"username": "cadre", "password": PASSWORD + "x"})
    assert wrong.status_code == 401


async def test_region_scope_cannot_be_escaped_and_state_changes_are_audited(workflow: Running) -> None:
    screen, cadre = await open_case(workflow)
    http, case_id, task_id = workflow.http, screen["case_id"], screen["task_id"]
    stranger, far_county = await workflow.login("stranger"), await workflow.login("far_county")
    for outsider in (stranger, far_county):
        for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/audit"):
            assert (await http.get(path, headers=outsider)).status_code == 404, path
        for path, body in (
            (f"/v1/tasks/{task_id}/claim", None),
            (f"/v1/tasks/{task_id}/complete", {"decision": "proceed"}),
            (f"/v1/cases/{case_id}/objections", {"reason": "x"}),
        ):
            assert (await http.post(path, headers=outsider, json=body)).status_code == 404, path
        # filters: another region, a wildcard, the caller's parent (narrowed back to the caller's scope)
        for path in ("/v1/tasks", "/v1/cases", "/v1/notices", "/v1/reports/summary"):
            assert (await http.get(path, headers=outsider, params={"region": VILLAGE})).status_code == 403, path
        for region in ("%", "6103%", "", "6"):
            listed = await http.get("/v1/cases", headers=outsider, params={"region": region})
            assert listed.status_code in (200, 403) and case_id not in listed.text, region
            tasks = await http.get("/v1/tasks", headers=outsider, params={"region": region, "status": "open"})
            assert tasks.status_code in (200, 403) and task_id not in tasks.text, region
    assert (await http.get("/v1/tasks", headers=stranger, params={"region": OTHER_VILLAGE})).status_code == 200

    assert (await http.post(f"/v1/tasks/{task_id}/claim", headers=cadre)).status_code == 200
    done = await http.post(f"/v1/tasks/{task_id}/complete", headers=cadre, json={"decision": "proceed"})
    assert done.status_code == 200, done.text

    async def audit() -> list[dict[str, Any]]:
        response = await http.get(f"/v1/cases/{case_id}/audit", headers=await workflow.login("county"))
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()["audit"]
        return rows if "case.step_changed" in [r["action"] for r in rows] else []

    rows = await eventually(audit, timeout=30, message="screen decision audited")
    by_action = {r["action"]: r for r in rows}
    assert by_action["case.opened"]["actor"] == "system"
    assert by_action["task.claimed"]["actor"] == "cadre" and by_action["task.claimed"]["task_id"] == task_id
    assert by_action["task.completed"]["actor"] == "cadre"
    assert by_action["case.step_changed"]["case_step"] == "verify"
    assert all(r["at"] and r["recorded_at"] for r in rows)
    assert [r["audit_id"] for r in rows] == sorted(r["audit_id"] for r in rows)

    for statement in ("update audit_log set actor = 'someone else'", "delete from audit_log", "truncate audit_log"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            await workflow.db.execute(statement)
    assert await workflow.db.fetchval("select count(*) from audit_log where case_id = $1", case_id) >= len(rows)
    assert await workflow.db.fetchval("select count(*) from audit_log where actor = 'someone else'") == 0


async def test_audit_of_an_unknown_case_is_404(workflow: Running) -> None:
    response = await workflow.http.get("/v1/cases/nope/audit", headers=await workflow.login("county"))
    assert response.status_code == 404 and response.json()["detail"][0]["loc"] == ["path", "case_id"]
