"""Tables owned by the risk service (its own Postgres schema); migrations/versions creates them."""

from sqlalchemy import ARRAY, BigInteger, Boolean, Column, DateTime, Float, MetaData, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

households = Table(
    "households",
    metadata,
    Column("household_id", Text, primary_key=True),
    Column("region_code", Text, nullable=False),
    Column("poverty_status", Text, nullable=False),
    Column("annual_net_income_cny", Float, nullable=False),
    Column("members", JSONB, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("record_event_id", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

facts = Table(
    "facts",
    metadata,
    Column("event_id", Text, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("household_id", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("member_id", Text, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("assessment_id", Text),
)

assessments = Table(
    "assessments",
    metadata,
    Column("assessment_id", Text, primary_key=True),
    Column("household_id", Text, nullable=False),
    Column("region_code", Text, nullable=False),
    Column("category", Text),
    Column("level", Text, nullable=False),
    Column("score", Float, nullable=False),
    Column("risk_types", ARRAY(Text), nullable=False),
    Column("warnings", ARRAY(Text), nullable=False),
    Column("reasons", JSONB, nullable=False),
    Column("opens_case", Boolean, nullable=False),
    Column("policy_version", Text, nullable=False),
    Column("event_ids", ARRAY(Text), nullable=False),
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    Column("as_of", DateTime(timezone=True), nullable=False),
    Column("fact_seq", BigInteger, nullable=False),
    Column("income_pc", Float, nullable=False),
    Column("adjusted_income_pc", Float, nullable=False),
    Column("poverty_status", Text, nullable=False),
    Column("published_at", DateTime(timezone=True)),
)

case_states = Table(
    "case_states",
    metadata,
    Column("household_id", Text, primary_key=True),
    Column("case_open", Boolean, nullable=False),
    Column("case_id", Text),
    Column("changed_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("close_reason", Text),
    Column("closed_case_id", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

case_history = Table(
    "case_history",
    metadata,
    Column("event_key", Text, primary_key=True),
    Column("household_id", Text, nullable=False),
    Column("case_id", Text, nullable=False),
    Column("closes", Boolean, nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("close_reason", Text, nullable=False),
    Column("reopened", Boolean, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
