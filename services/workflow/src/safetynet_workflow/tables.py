"""Tables owned by the workflow service (its own Postgres schema): the read projection of cases and
tasks for fast inboxes, the case timeline, escalations, and case-worker users.

Temporal stays the source of truth for the process; these rows are rebuilt from its activities."""

from sqlalchemy import Boolean, Column, DateTime, Float, Index, Integer, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import SQLModel

metadata = SQLModel.metadata

cases = Table(
    "cases",
    metadata,
    Column("case_id", String(64), primary_key=True),
    Column("workflow_id", String(200), nullable=False),
    Column("household_id", String(64), nullable=False, index=True),
    Column("region_code", String(12), nullable=False),
    Column("status", String(20), nullable=False),
    Column("step", String(20), nullable=False),
    Column("close_reason", String(40)),
    Column("category", String(40), nullable=False, server_default=""),
    Column("level", String(20), nullable=False, server_default=""),
    Column("score", Float, nullable=False, server_default="0"),
    Column("risk_types", JSONB, nullable=False, server_default="[]"),
    Column("green_channel", Boolean, nullable=False, server_default="false"),
    Column("labour", Boolean),
    Column("policy_version", String(40), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True)),
    Column("step_since", DateTime(timezone=True), nullable=False),
    Column("identification_due_at", DateTime(timezone=True)),
    Column("identified_at", DateTime(timezone=True)),
    Column("identification_breached", Boolean, nullable=False, server_default="false"),
    Column("notice_until", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_cases_region", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
    Index("ix_cases_closed", "status", "closed_at"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("task_id", String(160), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("workflow_id", String(200), nullable=False),
    Column("household_id", String(64), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("step", String(20), nullable=False),
    Column("role", String(40), nullable=False),
    Column("level", String(20), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("department", String(40)),
    Column("status", String(20), nullable=False),
    Column("assignee", String(100)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("escalation_level", Integer, nullable=False, server_default="0"),
    Column("overdue", Boolean, nullable=False, server_default="false"),
    Column("subject", JSONB, nullable=False, server_default="{}"),
    Column("form", JSONB),
    Column("completed_by", String(100)),
    Column("completed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
    Column("grid_id", String(100)),
    Index("ix_tasks_inbox", "status", "role", "region_code", postgresql_ops={"region_code": "text_pattern_ops"}),
)

timeline = Table(
    "timeline",
    metadata,
    Column("event_key", String(200), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("name", String(60), nullable=False),
    Column("task_id", String(160)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("details", JSONB, nullable=False, server_default="{}"),
    Column("published", Boolean, nullable=False, server_default="false"),
    Index("ix_timeline_case", "case_id", "at"),
)

escalations = Table(
    "escalations",
    metadata,
    Column("event_key", String(200), primary_key=True),
    Column("case_id", String(64), nullable=False, index=True),
    Column("task_id", String(160), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("from_level", String(20), nullable=False),
    Column("to_level", String(20), nullable=False),
    Column("from_role", String(40), nullable=False),
    Column("to_role", String(40), nullable=False),
    Column("escalation_level", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("username", String(100), primary_key=True),
    Column("password_hash", Text, nullable=False),
    Column("role", String(40), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("department", String(40)),
    Column("email", String(200)),
    Column("phone", String(40)),
    Column("active", Boolean, nullable=False, server_default="true"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("grid_id", String(100)),
)
