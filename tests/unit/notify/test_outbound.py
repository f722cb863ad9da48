"""The outbound guard (SSRF): address checks, a stub resolver and httpx.MockTransport: no traffic at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from collections.abc import AsyncIterator

import httpx
import pytest

from safetynet_notify.outbound import AddressPolicy, GuardedHttp, RefusedAddress, Resolver
from safetynet_notify.settings import Settings
from safetynet_notify.transports import (
    SIGNATURE_HEADER,
    DeliveryError,
    Outbound,
    WebhookTransport,
    sign,
    standard_signature,
)

PUBLIC = "93.184.216.34"
REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.0.0.5", "172.16.3.4", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.251", "240.0.0.1", "255.255.255.255", "192.0.2.10", "::1", "::", "fe80::1", "fc00::1",  # noqa: S104
    "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::1", "64:ff9b::a00:5",
]  # fmt: skip


def resolver(*answers: list[str]) -> tuple[list[str], Resolver]:
    """A stub resolver answering each lookup with the next of `answers` (the last one repeats)."""
    asked: list[str] = []
    queue = list(answers)

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return asked, resolve


@pytest.mark.parametrize("address", REFUSED)
def test_non_global_addresses_are_refused_unless_allowed(address: str) -> None:
    with pytest.raises(RefusedAddress, match="NOTIFY_ALLOWED_NETWORKS"):
        AddressPolicy().check_address(ipaddress.ip_address(address))


def test_allowed_networks_open_exactly_those_addresses() -> None:
    policy = AddressPolicy([ipaddress.ip_network("127.0.0.0/8")])
    policy.check_address(ipaddress.ip_address("127.0.0.1"))
    policy.check_address(ipaddress.ip_address(PUBLIC))
    for address in ("10.0.0.1", "169.254.169.254", "::1"):
        with pytest.raises(RefusedAddress):
            policy.check_address(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "url",
    ["ftp://example.org/x", "file:///etc/passwd", "http://user:pw@example.org/", "/relative", "http://"],
)
def test_only_plain_http_urls_are_accepted(url: str) -> None:
    with pytest.raises(RefusedAddress):
        AddressPolicy.parse(url)


async def test_host_names_are_checked_by_every_address_they_resolve_to() -> None:
    _, to_public = resolver([PUBLIC])
    assert str((await AddressPolicy(resolver=to_public).resolve("https://hooks.example.org/x")).address) == PUBLIC
    _, mixed = resolver([PUBLIC, "10.0.0.7"])
    with pytest.raises(RefusedAddress, match="private"):
        await AddressPolicy(resolver=mixed).resolve("http://hooks.example.org/x")

    async def fails(host: str, port: int) -> list[str]:
        raise OSError("no such host")

    with pytest.raises(RefusedAddress, match="does not resolve"):
        await AddressPolicy(resolver=fails).resolve("http://nowhere.example.org/x")
    for literal in ("http://127.0.0.1:8001/", "http://[::1]/", "http://2130706433/", "http://169.254.169.254/latest"):
        _, loopback = resolver(["127.0.0.1"])  # what the system resolver makes of a decimal address
        with pytest.raises(RefusedAddress):
            await AddressPolicy(resolver=loopback).resolve(literal)


class Recorder:
    """A MockTransport handler that records requests and answers with a body it notices being read."""

    def __init__(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []
        self.body_read = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        recorder = self

        class Body(httpx.AsyncByteStream):
            async def __aiter__(self) -> AsyncIterator[bytes]:
                recorder.body_read = True
                yield b"internal secret page"

        return httpx.Response(self.status, headers=self.headers, stream=Body())


async def test_the_connection_goes_to_the_checked_address_with_the_original_host() -> None:
    """A rebinding DNS answers differently at the second lookup: there is none, the checked address is used."""
    asked, rebinding = resolver([PUBLIC], ["127.0.0.1"])
    recorder = Recorder()
    http = GuardedHttp(AddressPolicy(resolver=rebinding), 5, httpx.MockTransport(recorder.handle))
    assert await http.post("https://hooks.example.org:8443/in?x=1", headers={}, content=b"{}") == 200
    (request,) = recorder.requests
    assert request.url.host == PUBLIC and request.url.port == 8443 and request.url.path == "/in"
    assert request.headers["host"] == "hooks.example.org:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.org"
    assert asked == ["hooks.example.org"] and not recorder.body_read
    with pytest.raises(RefusedAddress):  # the next send resolves to loopback and is refused before connecting
        await http.post("https://hooks.example.org:8443/in", headers={}, content=b"{}")
    assert len(recorder.requests) == 1


async def test_redirects_are_not_followed_and_bodies_never_read() -> None:
    _, to_public = resolver([PUBLIC])
    recorder = Recorder(302, {"Location": "http://169.254.169.254/latest/meta-data/"})
    http = GuardedHttp(AddressPolicy(resolver=to_public), 5, httpx.MockTransport(recorder.handle))
    transport = WebhookTransport(Settings(), http)
    message = Outbound("k1", "case.opened", "http://hooks.example.org/in", "", "", {"a": 1}, "s" * 16)
    with pytest.raises(DeliveryError) as redirect:
        await transport.send(message)
    assert str(redirect.value) == "HTTP 302 (redirect not followed)" and redirect.value.permanent
    assert len(recorder.requests) == 1 and not recorder.body_read
    recorder.status = 500
    with pytest.raises(DeliveryError) as failed:
        await transport.send(message)
    assert str(failed.value) == "HTTP 500" and not failed.value.permanent and not recorder.body_read


async def test_a_refused_address_is_a_permanent_failure_without_a_connection() -> None:
    recorder = Recorder()
    http = GuardedHttp(AddressPolicy(), 5, httpx.MockTransport(recorder.handle))
    message = Outbound("k1", "case.opened", "http://169.254.169.254/latest", "", "", {"a": 1}, "s" * 16)
    with pytest.raises(DeliveryError) as refused:
        await WebhookTransport(Settings(), http).send(message)
    assert refused.value.permanent and str(refused.value).startswith("address refused")
    assert recorder.requests == []


@pytest.mark.parametrize("secret", ["a-plain-secret-of-16+", "whsec_" + base64.b64encode(b"k" * 24).decode()])
async def test_deliveries_carry_standard_webhooks_headers_next_to_the_old_signature(secret: str) -> None:
    _, to_public = resolver([PUBLIC])
    recorder = Recorder()
    http = GuardedHttp(AddressPolicy(resolver=to_public), 5, httpx.MockTransport(recorder.handle))
    message = Outbound("case-1:webhook:sub_1", "case.opened", "http://hooks.example.org/in", "", "", {"b": 2}, secret)
    await WebhookTransport(Settings(), http).send(message)
    (request,) = recorder.requests
    body, headers = request.content, request.headers
    assert headers[SIGNATURE_HEADER] == sign(body, secret)
    assert headers["webhook-id"] == "case-1:webhook:sub_1"
    # verified as the Standard Webhooks spec says, independently of the code under test
    key = base64.b64decode(secret[6:]) if secret.startswith("whsec_") else secret.encode()
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == f"v1,{expected}"
    assert standard_signature(secret, "case-1:webhook:sub_1", int(headers["webhook-timestamp"]), body) == (
        headers["webhook-signature"]
    )
