"""Tables owned by the notify service (its own Postgres schema); migrations create them."""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

# Who may be notified: mirrored from `safetynet users create` (no passwords here).
recipients = Table(
    "recipients",
    metadata,
    Column("username", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("region", Text, nullable=False),
    Column("department", Text),
    Column("email", Text),
    Column("phone", Text),
    Column("locale", Text, nullable=False, server_default=text("'zh-CN'")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("subscription_id", Text, primary_key=True),
    Column("url", Text, nullable=False),
    # Kept in clear: we must sign with it. Never returned by the API.
    Column("secret", Text, nullable=False),
    Column("events", ARRAY(Text), nullable=False),
    Column("region_prefix", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("active", Boolean, nullable=False, server_default=text("true")),
)

# The outbox of notifications: one row per (event, channel, recipient), unique by notification_key.
deliveries = Table(
    "deliveries",
    metadata,
    Column("delivery_id", BigInteger, primary_key=True, autoincrement=True),
    Column("notification_key", Text, nullable=False, unique=True),
    Column("event_key", Text, nullable=False),
    Column("event_name", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("region_code", Text, nullable=False),
    Column("channel", Text, nullable=False),
    Column("recipient", Text, nullable=False),
    Column("address", Text, nullable=False),
    Column("locale", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("payload", JSONB),
    Column("escalation_level", Integer, nullable=False, server_default=text("0")),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
)

delivery_attempts = Table(
    "delivery_attempts",
    metadata,
    Column("attempt_id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "delivery_id", BigInteger, ForeignKey("deliveries.delivery_id", ondelete="CASCADE"), nullable=False
    ),
    Column("attempt", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("duration_ms", Integer, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("error", Text),
)
