"""Notify pure logic: backoff, quiet hours, rate limit, decoding, sanitising, templates, signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from safetynet_core import contracts
from safetynet_core.contracts import SCHEMA_VERSION, PoisonRecord
from safetynet_notify.api import mask_address
from safetynet_notify.consumer import notification_key
from safetynet_notify.events import EVENT_NAMES, decode, sanitize, webhook_payload
from safetynet_notify.policy import backoff_seconds, quiet_until, rate_limited_until, sms_hold_until
from safetynet_notify.render import LOCALES, Renderer, normalize_locale
from safetynet_notify.settings import Settings
from safetynet_notify.transports import EmailTransport, Outbound, sign

SHANGHAI = ZoneInfo("Asia/Shanghai")
ID_NUMBER = "61032719900101123X"


def local(hour: int, minute: int = 0, day: int = 23) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=SHANGHAI)


def message(name: str = "task.assigned", **fields: object) -> contracts.CaseEventMessage:
    msg = contracts.CaseEventMessage(
        schema_version=1,
        event_key="k1",
        name=name,
        case_id="C1",
        household_id="H1",
        region_code="610327101201",
        step="verify",
        status="verifying",
        task=contracts.case_events_pb2.TaskRef(
            task_id="T1",
            kind="home_visit",
            role="village_cadre",
            region_code="610327101201",
            escalation_level=1,
        ),
    )
    msg.occurred_at.CopyFrom(contracts.to_timestamp(datetime(2026, 11, 23, 1, tzinfo=UTC)))
    msg.task.due_at.CopyFrom(contracts.to_timestamp(datetime(2026, 11, 23, 15, 30, tzinfo=UTC)))
    for key, value in fields.items():
        setattr(msg, key, value)
    return msg


def test_backoff_grows_exponentially_is_capped_and_jittered() -> None:
    assert [backoff_seconds(n, 1, 100, 0) for n in (1, 2, 3, 4)] == [1, 2, 4, 8]
    assert backoff_seconds(20, 1, 100, 0) == 100
    assert backoff_seconds(3, 1, 100, 0.5, rand=lambda: 0.0) == 2
    assert backoff_seconds(3, 1, 100, 0.5, rand=lambda: 1.0) == 6


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (local(23, 30), local(7, day=24)),
        (local(22), local(7, day=24)),
        (local(3), local(7)),
        (local(7), None),
        (local(21, 59), None),
        (local(12), None),
    ],
)
def test_quiet_hours_span_midnight(now: datetime, until: datetime | None) -> None:
    assert quiet_until(now.astimezone(UTC), SHANGHAI, 22, 7) == until


def test_rate_limit_waits_for_the_oldest_send_in_the_window() -> None:
    now = local(12)
    sends = [now - timedelta(minutes=m) for m in (50, 30, 10)]
    assert rate_limited_until(now, sends, 4) is None
    assert rate_limited_until(now, sends, 3) == now + timedelta(minutes=10)
    assert rate_limited_until(now, [now - timedelta(hours=2)] * 5, 1) is None


def test_sms_hold_honours_escalation_override_but_keeps_the_rate_limit() -> None:
    opts = {"tz": SHANGHAI, "quiet_start": 22, "quiet_end": 7, "override_level": 2, "per_hour": 2}
    night = local(23)
    assert sms_hold_until(night, 0, [], **opts) == local(7, day=24)  # type: ignore[arg-type]
    assert sms_hold_until(night, 1, [], **opts) == local(7, day=24)  # type: ignore[arg-type]
    assert sms_hold_until(night, 2, [], **opts) is None  # type: ignore[arg-type]
    busy = [night - timedelta(minutes=5)] * 2
    assert sms_hold_until(night, 2, busy, **opts) == night + timedelta(minutes=55)  # type: ignore[arg-type]
    assert sms_hold_until(local(12), 0, [], **opts) is None  # type: ignore[arg-type]


def test_decode_rejects_poison() -> None:
    with pytest.raises(PoisonRecord):
        decode(b"")
    with pytest.raises(PoisonRecord, match="not a CaseEvent") as garbage:
        decode(b"\xff\xff\xff not protobuf")
    assert garbage.value.reason == "undecodable"
    with pytest.raises(PoisonRecord) as newer:
        decode(message(schema_version=SCHEMA_VERSION + 1).SerializeToString())
    assert newer.value.reason == "schema_version"
    with pytest.raises(PoisonRecord) as alien:
        decode(message(name="alien.landed").SerializeToString())
    assert alien.value.reason == "unknown_type"
    with pytest.raises(PoisonRecord, match="event_key"):
        decode(message(event_key="").SerializeToString())
    bare = message()
    bare.ClearField("task")
    with pytest.raises(PoisonRecord, match="without a task"):
        decode(bare.SerializeToString())


def test_decode_reads_the_task_and_strips_sensitive_details() -> None:
    msg = message()
    msg.details.update(
        {
            "note": f"ID {ID_NUMBER}",
            "id_number": ID_NUMBER,
            "diagnosis_category": "cancer",
            "phone": "13800001111",
            "notice_days": 5,
        }
    )
    event = decode(msg.SerializeToString())
    assert event.task is not None and event.task.escalation_level == 1
    assert event.task.due_at == datetime(2026, 11, 23, 15, 30, tzinfo=UTC)
    assert event.details == {"note": "ID **************123X", "notice_days": 5}
    payload = webhook_payload(event, "http://x/cases/C1")
    assert (
        ID_NUMBER not in str(payload) and "cancer" not in str(payload) and "13800001111" not in str(payload)
    )


def test_sanitize_recurses() -> None:
    assert sanitize({"a": [{"health": 1, "b": ID_NUMBER}]}) == {"a": [{"b": "**************123X"}]}


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", sorted(EVENT_NAMES))
def test_every_event_has_a_template_in_every_locale(name: str, locale: str) -> None:
    event = decode(
        message(name=name, case_id=f"C-{ID_NUMBER}", close_reason="risk_eliminated").SerializeToString()
    )
    text = Renderer("http://ui:8003/").render(event, locale)
    assert text.subject and text.body and text.sms
    link = "http://ui:8003/cases/C-**************123X"
    assert link in text.body and link in text.sms
    assert ID_NUMBER not in text.subject + text.body + text.sms


def test_due_time_is_local() -> None:
    event = decode(message().SerializeToString())
    renderer = Renderer("http://ui")
    assert "2026年11月23日 23:30" in renderer.render(event, "zh-CN").body
    assert "23 Nov 2026, 23:30" in renderer.render(event, "en").body


def test_locale_normalisation() -> None:
    assert normalize_locale("zh_CN") == "zh-CN"
    assert normalize_locale("en-GB") == "en"
    assert normalize_locale(None) == "zh-CN"
    assert normalize_locale("fr", default="en") == "en"


def test_signature_is_hmac_sha256_of_the_body() -> None:
    body = b'{"a":1}'
    assert sign(body, "secret") == "sha256=" + hmac.new(b"secret", body, hashlib.sha256).hexdigest()


def test_email_message_shape() -> None:
    transport = EmailTransport(Settings(smtp_host="localhost"))
    mail = transport.build(
        Outbound(
            notification_key="k:email:u",
            event_name="task.assigned",
            address="u@x.test",
            subject="【防返贫监测】新任务",
            body="正文",
        )
    )
    assert mail["To"] == "u@x.test" and mail["Subject"] == "【防返贫监测】新任务"
    assert mail.get_content().strip() == "正文"


def test_helpers() -> None:
    assert notification_key("e1", "sms", "u1") == "e1:sms:u1"
    assert mask_address("sms", "13800001111") == "*******1111"
    assert mask_address("email", "alice@x.test") == "a***@x.test"
    assert mask_address("webhook", "http://h/p?token=1") == "http://h/p"


def test_settings_reject_a_malformed_sms_auth_header() -> None:
    with pytest.raises(ValueError):
        Settings(sms_auth_header="no-colon")
