"""Channel adapters: signed webhooks (httpx), email over SMTP (aiosmtplib), SMS through an HTTP gateway."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol
from urllib.parse import quote

import aiosmtplib
import httpx
import orjson

from safetynet_notify.settings import Settings

SIGNATURE_HEADER = "X-SafetyNet-Signature"


class DeliveryError(Exception):
    """A failed try; `permanent` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Outbound:
    """One message ready to go out on a channel."""

    notification_key: str
    event_name: str
    address: str
    subject: str
    body: str
    payload: dict[str, Any] | None = None
    secret: str | None = None


class Transport(Protocol):
    async def send(self, message: Outbound) -> None: ...

    async def close(self) -> None: ...


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of body>` as sent in X-SafetyNet-Signature."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _check_response(response: httpx.Response) -> None:
    if response.is_success:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 425, 429)
    raise DeliveryError(f"HTTP {response.status_code}: {response.text[:200]}", permanent=permanent)


async def _post(client: httpx.AsyncClient, url: str, **kwargs: Any) -> None:
    try:
        response = await client.post(url, **kwargs)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from exc
    _check_response(response)


class WebhookTransport:
    """POSTs the event JSON, signed with the subscription's secret."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)

    async def send(self, message: Outbound) -> None:
        if message.secret is None:
            raise DeliveryError("subscription is gone", permanent=True)
        body = orjson.dumps(message.payload, option=orjson.OPT_SORT_KEYS)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, message.secret),
            "X-SafetyNet-Event": message.event_name,
            "X-SafetyNet-Delivery": message.notification_key,
        }
        await _post(self._client, message.address, content=body, headers=headers)

    async def close(self) -> None:
        await self._client.aclose()


class EmailTransport:
    """Sends plain-text UTF-8 mail through the configured SMTP server."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def build(self, message: Outbound) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self._settings.smtp_from
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Message-ID"] = make_msgid(
            idstring=hashlib.sha256(message.notification_key.encode()).hexdigest()[:16]
        )
        mail["X-SafetyNet-Event"] = message.event_name
        mail.set_content(message.body)
        return mail

    async def send(self, message: Outbound) -> None:
        s = self._settings
        try:
            await aiosmtplib.send(
                self.build(message),
                hostname=s.smtp_host,
                port=s.smtp_port,
                use_tls=s.smtp_tls,
                start_tls=s.smtp_starttls,
                username=s.smtp_username,
                password=s.smtp_password.get_secret_value() if s.smtp_password else None,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}"[:300], permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from exc

    async def close(self) -> None:
        return None


class SmsTransport:
    """POSTs `{"phone", "text"}` to the gateway URL (which may hold `{phone}`) with the auth header."""

    def __init__(self, settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        if not settings.sms_gateway_url:
            raise ValueError("SAFETYNET_SMS_GATEWAY_URL is not set")
        self._url = settings.sms_gateway_url
        self._headers: dict[str, str] = {}
        if settings.sms_auth_header is not None:
            name, _, value = settings.sms_auth_header.get_secret_value().partition(":")
            self._headers[name.strip()] = value.strip()
        self._client = client or httpx.AsyncClient(timeout=settings.sms_timeout_seconds)

    async def send(self, message: Outbound) -> None:
        url = self._url.replace("{phone}", quote(message.address, safe=""))
        await _post(
            self._client,
            url,
            json={"phone": message.address, "text": message.body, "id": message.notification_key},
            headers=self._headers,
        )

    async def close(self) -> None:
        await self._client.aclose()


def default_transports(settings: Settings) -> dict[str, Transport]:
    """The channels the settings enable: webhook always, email with an SMTP host, SMS with a gateway."""
    transports: dict[str, Transport] = {"webhook": WebhookTransport(settings)}
    if settings.smtp_host:
        transports["email"] = EmailTransport(settings)
    if settings.sms_gateway_url:
        transports["sms"] = SmsTransport(settings)
    return transports
