"""Reporting tables owned by the workflow service, filled by `ReportsConsumer` from the intake and risk
topics (the workflow service never reads another service's tables)."""

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, Table
from sqlalchemy.dialects.postgresql import JSONB

from safetynet_workflow.tables import metadata

report_households = Table(
    "report_households",
    metadata,
    Column("household_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    # Registry facts the sweep target rule and grid routing read (wf0004_field_ops).
    Column("grid_id", String(100)),
    Column("poverty_status", String(20)),
    Column("members", Integer),
    Column("in_school", Integer),
    Column("no_labour", Boolean),
    Column("income_pc", Float),
    Column("labour_members", Integer),
    Column("head_name", String(100)),
    Index("ix_report_households_region", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
)

report_events = Table(
    "report_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("household_id", String(64), nullable=False, index=True),
    Column("department", String(40), nullable=False),
    Column("type", String(40), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Index("ix_report_events_received", "received_at"),
)

report_assessments = Table(
    "report_assessments",
    metadata,
    Column("assessment_id", String(100), primary_key=True),
    Column("household_id", String(64), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("category", String(40), nullable=False, server_default=""),
    Column("level", String(20), nullable=False),
    Column("score", Float, nullable=False),
    Column("risk_types", JSONB, nullable=False, server_default="[]"),
    Column("warnings", JSONB, nullable=False, server_default="[]"),
    Column("opens_case", Boolean, nullable=False),
    Column("reasons", JSONB, nullable=False, server_default="[]"),  # wf0007_oversight
    Column("assessed_at", DateTime(timezone=True), nullable=False),
    Index("ix_report_assessments_household", "household_id", "assessed_at"),
    Index("ix_report_assessments_region", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
)

report_assessed_events = Table(
    "report_assessed_events",
    metadata,
    Column("event_id", String(100), primary_key=True),
    Column("assessment_id", String(100), nullable=False),
)
