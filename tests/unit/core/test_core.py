"""Unit tests of the core library: settings fail fast, auth, ID masking, policy loading, payloads."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from safetynet_core.auth import (
    AuthError,
    Principal,
    Role,
    VerifiedKeyCache,
    client_id_of,
    hash_secret,
    issue_token,
    new_api_key,
    verify_secret,
    verify_token,
)
from safetynet_core.contracts import DEPARTMENT_EVENT_TYPES, EventType, parse_payload
from safetynet_core.policy import PolicyError, load_policy, parse_policy
from safetynet_core.settings import DEFAULT_POLICY_FILE, CoreSettings


def test_settings_fail_fast_on_bad_values() -> None:
    with pytest.raises(ValidationError, match="postgresql"):
        CoreSettings(database_url="mysql://x")
    with pytest.raises(ValidationError, match="cannot read key file"):
        CoreSettings(jwt_private_key_file="/nonexistent/signing.pem")
    with pytest.raises(ValidationError):
        CoreSettings(db_schema="bad-name; drop")


def test_jwt_round_trip_carries_role_and_region_and_no_pii() -> None:
    settings = CoreSettings()
    principal = Principal(subject="cadre-1", role=Role.VILLAGE_CADRE, region="610327101201")
    token = issue_token(settings, principal, session_id="s1")
    assert verify_token(settings, token) == principal
    import jwt

    claims = jwt.decode(token, options={"verify_signature": False})
    assert set(claims) == {"sub", "role", "region", "dept", "aud", "iss", "iat", "exp", "jti", "sid"}
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_expired_or_forged_tokens_are_rejected(tmp_path: Path) -> None:
    from safetynet_core.keys import write_key_pair

    settings = CoreSettings(jwt_ttl_minutes=1)
    token = issue_token(settings, Principal("u", Role.ADMIN, ""))
    write_key_pair(tmp_path / "other.pem")
    other = CoreSettings(jwt_private_key_file=tmp_path / "other.pem")
    with pytest.raises(AuthError):
        verify_token(other, token)
    with pytest.raises(AuthError):
        verify_token(settings, token + "x")


def test_region_scope_narrowing() -> None:
    township = Principal("t", Role.TOWNSHIP_OFFICER, "610327101")
    assert township.can_see("610327101201")
    assert not township.can_see("610327102201")
    assert township.narrow(None) == "610327101"
    assert township.narrow("610327101201") == "610327101201"
    assert township.narrow("610327") == "610327101"
    with pytest.raises(AuthError):
        township.narrow("610327102")


def test_secrets_are_hashed_and_keys_carry_their_client_id() -> None:
    key = new_api_key("c123")
    assert client_id_of(key) == "c123"
    hashed = hash_secret(key)
    assert key not in hashed
    assert verify_secret(hashed, key)
    assert not verify_secret(hashed, key + "x")
    with pytest.raises(AuthError):
        client_id_of("garbage")


def test_verified_key_cache_expires() -> None:
    cache = VerifiedKeyCache(ttl=-1)
    cache.put("k", "client")
    assert cache.get("k") is None
    cache = VerifiedKeyCache(ttl=60)
    cache.put("k", "client")
    assert cache.get("k") == "client"


def test_default_policy_loads_and_bad_policies_are_refused(tmp_path: Path) -> None:
    policy = load_policy(DEFAULT_POLICY_FILE)
    assert policy.workflow.identification_days == 15
    assert policy.workflow.task("screen").sla_days == 2
    with pytest.raises(PolicyError):
        parse_policy({"version": "x"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed")
    with pytest.raises(PolicyError):
        load_policy(bad)
    with pytest.raises(PolicyError):
        load_policy(tmp_path / "missing.yaml")


def test_a_policy_may_extend_another_and_change_some_keys(tmp_path: Path) -> None:
    drill = load_policy(DEFAULT_POLICY_FILE.parent / "drill.yaml")
    default = load_policy(DEFAULT_POLICY_FILE)
    assert drill.version != default.version and drill.workflow.day_seconds < default.workflow.day_seconds
    assert drill.workflow.elimination.min_monitored_months == 1
    assert drill.workflow.elimination.requires_labour_capacity  # unchanged keys come from the base
    assert drill.workflow.tasks == default.workflow.tasks and drill.risk == default.risk
    (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
    with pytest.raises(PolicyError, match="circle"):
        load_policy(tmp_path / "a.yaml")


def test_payloads_are_typed_per_event_type() -> None:
    assert parse_payload("housing_safety", {"rating": "D"})
    with pytest.raises(ValidationError):
        parse_payload("housing_safety", {"rating": "E"})
    with pytest.raises(ValidationError):
        parse_payload("medical_expense", {"out_of_pocket_cny": -1, "total_cost_cny": 1, "inpatient": False})
    assert set(DEPARTMENT_EVENT_TYPES["medical_insurance"]) == {
        EventType.MEDICAL_EXPENSE,
        EventType.INSURANCE_STATUS,
        EventType.MEASURE_UPDATE,
    }


def test_text_the_database_cannot_store_is_a_client_error() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from safetynet_core.errors import install_error_handlers

    class DriverError(Exception):
        sqlstate = "22021"

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/nul")
    async def nul() -> None:
        try:
            raise DriverError("invalid byte sequence for encoding UTF8: 0x00")
        except DriverError as exc:
            raise RuntimeError("wrapped by the ORM") from exc

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a real fault")

    with TestClient(app, raise_server_exceptions=False) as client:
        refused = client.get("/nul")
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body"] and "NUL" in refused.json()["detail"][0]["msg"]
        assert client.get("/bug").status_code == 500


async def test_supervise_restarts_a_loop_cancelled_from_inside_but_stops_when_cancelled() -> None:
    import asyncio

    from safetynet_core.service import supervise

    runs = 0

    async def dies_of_an_inner_cancel() -> None:
        nonlocal runs
        runs += 1
        if runs < 3:
            inner = asyncio.get_running_loop().create_future()
            inner.cancel()  # as aiokafka does to its own futures when a client dies
            await inner
        await asyncio.Event().wait()

    supervisor = asyncio.create_task(supervise("test", dies_of_an_inner_cancel, backoff_max=0.01))
    for _ in range(300):
        if runs == 3:
            break
        await asyncio.sleep(0.01)
    assert runs == 3 and not supervisor.done()
    supervisor.cancel()
    with pytest.raises(asyncio.CancelledError):
        await supervisor


async def test_send_keyed_picks_the_default_partitioners_partition_and_keeps_order() -> None:
    from aiokafka.partitioner import DefaultPartitioner

    from safetynet_core.kafka import send_keyed

    class Batch:
        def __init__(self) -> None:
            self.values: list[bytes] = []

        def append(self, *, key: bytes, value: bytes, timestamp: None) -> object:
            self.values.append(value)
            return object()

    class Producer:
        def __init__(self) -> None:
            self.sent: dict[tuple[str, int], list[bytes]] = {}

        async def partitions_for(self, topic: str) -> set[int]:
            return set(range(6))

        def create_batch(self) -> Batch:
            return Batch()

        async def send_batch(self, batch: Batch, topic: str, partition: int) -> asyncio.Future[None]:
            self.sent.setdefault((topic, partition), []).extend(batch.values)
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

    producer = Producer()
    messages = [("t", f"H{i % 17}".encode(), f"{i}".encode()) for i in range(200)]
    await asyncio.gather(*await send_keyed(producer, messages))
    default = DefaultPartitioner()
    for topic, key, value in messages:
        partition = default(key, list(range(6)), list(range(6)))
        assert value in producer.sent[(topic, partition)]
    for values in producer.sent.values():
        assert values == sorted(values, key=int)  # each partition's stream in the given order


def test_request_metrics_carry_the_route_template_of_included_routers() -> None:
    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient
    from prometheus_client import REGISTRY

    from safetynet_core.metrics import RouteMetricsMiddleware, metrics_endpoint

    router = APIRouter(prefix="/v1")

    @router.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    app = FastAPI()
    app.include_router(router)
    app.add_route("/metrics", metrics_endpoint)
    app.add_middleware(RouteMetricsMiddleware, service="unit-routes")
    with TestClient(app) as client:
        for path in ("/v1/things/a", "/v1/things/b", "/metrics", "/nowhere"):
            client.get(path)

    def count(route: str) -> float | None:
        labels = {"service": "unit-routes", "method": "GET", "route": route}
        return REGISTRY.get_sample_value("safetynet_http_request_duration_seconds_count", labels)

    assert count("/v1/things/{thing_id}") == 2
    assert count("/metrics") == 1
    assert count("unmatched") == 1
