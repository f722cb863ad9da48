"""Outbound HTTP to addresses outside SafetyNet (webhooks, exchange pushes, the SMS gateway) through one
guarded client, so that a subscription cannot turn notify against the inside of the network (SSRF):

- a URL is checked when it is subscribed (422 naming the field) and its host resolved and checked again at
  every send; loopback, private, link-local, multicast, reserved and every other non-global address is
  refused unless it lies inside `NOTIFY_ALLOWED_NETWORKS`;
- the connection goes to the address that was checked (no second lookup a rebinding DNS could answer
  differently), with the original Host header and TLS server name;
- redirects are not followed, proxies from the environment are not used, and the receiver's response body
  is never read: a send yields the status code only."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[str]]]
"""host, port → the IP addresses it resolves to."""
SCHEMES = ("http", "https")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class RefusedAddress(ValueError):
    """A URL notify may not send to; the message says why without echoing anything from the receiver."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo, NAT64), if any."""
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class Target:
    """A checked destination: the URL as subscribed and the address to connect to."""

    url: httpx.URL
    address: IPAddress


class AddressPolicy:
    """Which addresses notify may send to: global unicast ones, and anything inside `allowed`."""

    def __init__(self, allowed: Sequence[Network] = (), resolver: Resolver = system_resolver) -> None:
        self.allowed = tuple(allowed)
        self.resolver = resolver

    def _allowed(self, ip: IPAddress) -> bool:
        return any(ip.version == net.version and ip in net for net in self.allowed)

    def check_address(self, ip: IPAddress) -> None:
        """RefusedAddress unless `ip` is global unicast (also the IPv4 address inside an IPv6 one) or allowed."""
        if self._allowed(ip):
            return
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            self.check_address(embedded)
        if ip.is_multicast or not ip.is_global:
            kind = next(
                (name for name in ("loopback", "private", "link_local", "multicast", "reserved", "unspecified")
                 if getattr(ip, f"is_{name}")),
                "non-global",
            )  # fmt: skip
            raise RefusedAddress(f"the address is {kind.replace('_', '-')} and not inside NOTIFY_ALLOWED_NETWORKS")

    @staticmethod
    def parse(url: str) -> httpx.URL:
        """RefusedAddress unless `url` is an absolute http(s) URL with a host and no credentials in it."""
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise RefusedAddress("not a valid URL") from exc
        if parsed.scheme not in SCHEMES or not parsed.host:
            raise RefusedAddress("only absolute http and https URLs are allowed")
        if parsed.userinfo:
            raise RefusedAddress("credentials in the URL are not allowed (use the subscription secret)")
        return parsed

    async def resolve(self, url: str) -> Target:
        """Parse, resolve and check every address the host has; the first one is the one to connect to."""
        parsed = self.parse(url)
        host = parsed.raw_host.decode("ascii")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                found = await self.resolver(host, port)
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in found]
            except (OSError, ValueError, UnicodeError) as exc:
                raise RefusedAddress("the host name does not resolve") from exc
            if not addresses:
                raise RefusedAddress("the host name does not resolve")
        for address in addresses:
            self.check_address(address)
        return Target(parsed, addresses[0])


class GuardedHttp:
    """POSTs through the policy: to the checked address, no redirects, no proxies, the body unread."""

    def __init__(
        self, policy: AddressPolicy, timeout: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.policy = policy
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False, trust_env=False, transport=transport)

    async def post(self, url: str, *, headers: dict[str, str], content: bytes) -> int:
        """The response's status code; RefusedAddress before any connection to a refused address."""
        target = await self.policy.resolve(url)
        pinned = target.url.copy_with(host=str(target.address))
        host = target.url.raw_host.decode("ascii")
        extensions: dict[str, Any] = {"sni_hostname": host} if target.url.scheme == "https" else {}
        headers = {**headers, "Host": target.url.netloc.decode("ascii")}
        request = self._http.build_request("POST", pinned, content=content, headers=headers, extensions=extensions)
        response = await self._http.send(request, stream=True)
        await response.aclose()  # the body is never read
        return response.status_code

    async def aclose(self) -> None:
        await self._http.aclose()


def parse_networks(value: Any) -> Any:
    """`NOTIFY_ALLOWED_NETWORKS`: comma-separated CIDRs (strict: no host bits set)."""
    if isinstance(value, str):
        return [ipaddress.ip_network(part.strip(), strict=True) for part in value.split(",") if part.strip()]
    return value
