"""Channel adapters: signed webhooks and the SMS gateway through the guarded outbound client
(outbound.py), email over SMTP (aiosmtplib). A failed try is recorded by its error class only (an HTTP
status, an exception class): nothing a receiver answers is stored or shown."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol
from urllib.parse import quote

import aiosmtplib
import httpx
import orjson

from safetynet_core.vocabulary import Channel
from safetynet_notify.outbound import AddressPolicy, GuardedHttp, RefusedAddress
from safetynet_notify.settings import Settings

SIGNATURE_HEADER = "X-SafetyNet-Signature"
# Standard Webhooks (standardwebhooks.com): id, timestamp and "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
WEBHOOK_ID, WEBHOOK_TIMESTAMP, WEBHOOK_SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


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


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks `webhook-signature` value. The key is the secret's bytes, or for a
    `whsec_<base64>` secret (as Standard Webhooks libraries generate) the decoded key."""
    key = (
        base64.b64decode(secret.removeprefix(STANDARD_SECRET_PREFIX))
        if secret.startswith(STANDARD_SECRET_PREFIX)
        else secret.encode()
    )
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def status_error(status: int) -> DeliveryError | None:
    """None for a 2xx; a 3xx is not followed (permanent), 4xx are permanent but for 408, 425 and 429."""
    if 200 <= status < 300:
        return None
    if 300 <= status < 400:
        return DeliveryError(f"HTTP {status} (redirect not followed)", permanent=True)
    return DeliveryError(f"HTTP {status}", permanent=400 <= status < 500 and status not in (408, 425, 429))


async def _post(http: GuardedHttp, url: str, headers: dict[str, str], body: bytes) -> None:
    try:
        status = await http.post(url, headers=headers, content=body)
    except RefusedAddress as exc:
        raise DeliveryError(f"address refused: {exc}", permanent=True) from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(type(exc).__name__) from exc
    error = status_error(status)
    if error is not None:
        raise error


def guarded_http(settings: Settings, timeout: float, policy: AddressPolicy | None = None) -> GuardedHttp:
    return GuardedHttp(policy or AddressPolicy(settings.notify_allowed_networks), timeout)


class WebhookTransport:
    """POSTs the event JSON, signed with the subscription's secret (X-SafetyNet-Signature and Standard
    Webhooks headers; `webhook-id` is the delivery's key, the same on every retry)."""

    def __init__(self, settings: Settings, http: GuardedHttp | None = None) -> None:
        self._http = http or guarded_http(settings, settings.webhook_timeout_seconds)

    async def send(self, message: Outbound) -> None:
        if message.secret is None:
            raise DeliveryError("subscription is gone", permanent=True)
        body = orjson.dumps(message.payload, option=orjson.OPT_SORT_KEYS)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(body, message.secret),
            "X-SafetyNet-Event": message.event_name,
            "X-SafetyNet-Delivery": message.notification_key,
            WEBHOOK_ID: message.notification_key,
            WEBHOOK_TIMESTAMP: str(timestamp),
            WEBHOOK_SIGNATURE: standard_signature(message.secret, message.notification_key, timestamp, body),
        }
        await _post(self._http, message.address, headers, body)

    async def close(self) -> None:
        await self._http.aclose()


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
            raise DeliveryError("recipient refused", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(type(exc).__name__) from exc

    async def close(self) -> None:
        return None


class SmsTransport:
    """POSTs `{"phone", "text"}` to the gateway URL (which may hold `{phone}`) with the auth header."""

    def __init__(self, settings: Settings, http: GuardedHttp | None = None) -> None:
        if not settings.sms_gateway_url:
            raise ValueError("SAFETYNET_SMS_GATEWAY_URL is not set")
        self._url = settings.sms_gateway_url
        self._headers: dict[str, str] = {"Content-Type": "application/json"}
        if settings.sms_auth_header is not None:
            name, _, value = settings.sms_auth_header.get_secret_value().partition(":")
            self._headers[name.strip()] = value.strip()
        self._http = http or guarded_http(settings, settings.sms_timeout_seconds)

    async def send(self, message: Outbound) -> None:
        url = self._url.replace("{phone}", quote(message.address, safe=""))
        body = orjson.dumps({"phone": message.address, "text": message.body, "id": message.notification_key})
        await _post(self._http, url, self._headers, body)

    async def close(self) -> None:
        await self._http.aclose()


def default_transports(settings: Settings, policy: AddressPolicy | None = None) -> dict[str, Transport]:
    """The channels the settings enable: webhook always, email with an SMTP host, SMS with a gateway; the
    HTTP ones through `policy` (default: the settings' allowed networks and the system resolver)."""
    transports: dict[str, Transport] = {
        Channel.WEBHOOK: WebhookTransport(settings, guarded_http(settings, settings.webhook_timeout_seconds, policy))
    }
    if settings.smtp_host:
        transports[Channel.EMAIL] = EmailTransport(settings)
    if settings.sms_gateway_url:
        transports[Channel.SMS] = SmsTransport(settings, guarded_http(settings, settings.sms_timeout_seconds, policy))
    return transports
