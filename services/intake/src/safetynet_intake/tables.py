"""Tables owned by the intake service (its own Postgres schema); migrations create them."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

metadata = MetaData()

api_clients = Table(
    "api_clients",
    metadata,
    Column("client_id", Text, primary_key=True),
    Column("department", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("event_types", ARRAY(Text), nullable=False),
    Column("registry_write", Boolean, nullable=False, server_default=text("false")),
    Column("key_hash", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("revoked_at", DateTime(timezone=True)),
    # A bound client writes households and events only under this region code prefix (null: anywhere).
    Column("region_prefix", Text),
)

households = Table(
    "households",
    metadata,
    Column("household_id", Text, primary_key=True),
    Column("client_id", Text, nullable=False),
    Column("region_code", Text, nullable=False),
    Column("poverty_status", Text, nullable=False),
    Column("annual_net_income_cny", Float, nullable=False),
    Column("head_member_id", Text, nullable=False),
    # Members with ID numbers masked; the full numbers are kept sealed apart (sealing.py) for the audited reveal.
    Column("members", JSONB, nullable=False),
    Column("phone", Text),
    Column("grid_id", Text),
    Column("record_hash", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Index("households_region_code", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
)

events = Table(
    "events",
    metadata,
    Column("client_id", Text, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("department", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("household_id", Text, nullable=False),
    Column("member_id", Text),
    Column("reference", Text),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("body_hash", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default=text("'accepted'")),
    Column("published_at", DateTime(timezone=True)),
    Column("assessment_id", Text),
    Column("assessed_at", DateTime(timezone=True)),
    Column("case_id", Text),
    # The outbox row publishing this event; `published` is read from it (see store.EVENT_STATUS).
    Column("outbox_id", BigInteger),
    PrimaryKeyConstraint("event_id", "client_id"),
    Index(
        "events_awaiting_case",
        "household_id",
        postgresql_where=text("status = 'assessed' and case_id is null"),
    ),
    postgresql_with={"fillfactor": 80},
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("topic", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", LargeBinary, nullable=False),
    # The event row this message publishes (null for registry records).
    Column("client_id", Text),
    Column("event_id", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=text("now()")),
    Column("published_at", DateTime(timezone=True)),
    Index("outbox_unpublished", "id", postgresql_where=text("published_at is null")),
)
