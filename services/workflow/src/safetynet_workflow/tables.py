"""Tables owned by the workflow service (its own Postgres schema): the read projection of cases and
tasks for fast inboxes, the case timeline, escalations, the append-only audit log, case-worker users,
and the field operations (sweeps and their targets, registry corrections, the rectification ledger),
whose tasks live in the task projection like case tasks. The reporting tables are in `reports/tables.py`.

Temporal stays the source of truth for the process; these rows are rebuilt from its activities."""

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Identity,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
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
    # The household's registry facts when the case opened (refreshed on corrections) and what the case found.
    Column("household_size", Integer),
    Column("labour_members", Integer),
    Column("head_name", String(100)),
    Column("verified_income_cny", Float),
    Column("responsible", String(100)),
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
    Index("ix_cases_opened", "opened_at", "case_id"),
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
    Index("ix_tasks_assignee", "assignee", "status"),
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

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", String(64), primary_key=True),
    Column("username", String(100), nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True)),
)

# Password checks, recorded before each runs (auth/throttle.py); a successful one is deleted again.
login_attempts = Table(
    "login_attempts",
    metadata,
    Column("attempt_id", BigInteger, Identity(always=True), primary_key=True),
    Column("user_key", String(64), nullable=False),
    Column("address_key", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_login_attempts_user", "user_key", "at"),
    Index("ix_login_attempts_address", "address_key", "at"),
    Index("ix_login_attempts_at", "at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("audit_id", BigInteger, Identity(always=True), primary_key=True),
    Column("case_id", String(64), nullable=False),
    Column("event_key", String(200), nullable=False),
    Column("action", String(60), nullable=False),
    Column("task_id", String(160)),
    Column("actor", String(200), nullable=False),
    Column("case_status", String(20), nullable=False),
    Column("case_step", String(20), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

TZ = DateTime(timezone=True)
REGION_OPS = {"region_code": "text_pattern_ops"}

sweeps = Table(
    "sweeps",
    metadata,
    Column("sweep_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("title", String(200), nullable=False),
    Column("target", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("targeted", Integer, nullable=False, server_default="0"),
    Column("launched_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("closed_at", TZ),
    Index("ix_sweeps_region", "region_code", postgresql_ops=REGION_OPS),
)

sweep_targets = Table(
    "sweep_targets",
    metadata,
    Column("sweep_id", String(64), primary_key=True),
    Column("household_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("grid_id", String(100)),
    Column("groups", JSONB, nullable=False),
    Column("batch_no", Integer, nullable=False),
    Index("ix_sweep_targets_batch", "sweep_id", "batch_no"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("correction_id", String(64), primary_key=True),
    Column("household_id", String(64), nullable=False, index=True),
    Column("region_code", String(12), nullable=False),
    Column("field", String(100), nullable=False),
    Column("member_id", String(100)),
    Column("value", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("decided_at", TZ),
    Column("outcome", JSONB, nullable=False, server_default="{}"),
    Index("ix_corrections_region", "region_code", postgresql_ops=REGION_OPS),
)

ledger_items = Table(
    "ledger_items",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("household_id", String(64)),
    Column("region_code", String(12), nullable=False),
    Column("problem", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("closed_at", TZ),
    Column("evidence", JSONB, nullable=False, server_default="{}"),
    UniqueConstraint("source", "source_ref", name="uq_ledger_items_source"),
    Index("ix_ledger_items_region", "region_code", postgresql_ops=REGION_OPS),
)


# The region directory (wf0007_oversight): names of the county, its townships and villages.
regions = Table(
    "regions",
    metadata,
    Column("code", String(12), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("level", String(20), nullable=False),
    Column("parent", String(12), index=True),
    Column("updated_at", TZ, nullable=False, server_default=func.now()),
)

# Upward reports (wf0007_oversight): a region's frozen summary of a period and its parent's review.
report_submissions = Table(
    "report_submissions",
    metadata,
    Column("submission_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("period", String(10), nullable=False),
    Column("period_start", Date, nullable=False),
    Column("period_end", Date, nullable=False),
    Column("due_at", TZ, nullable=False),
    Column("status", String(20), nullable=False),
    Column("late", Boolean, nullable=False),
    Column("summary", JSONB, nullable=False),
    Column("submitted_by", String(100), nullable=False),
    Column("submitted_at", TZ, nullable=False),
    Column("reviewed_by", String(100)),
    Column("reviewed_at", TZ),
    Column("review_note", Text),
    Index("ix_report_submissions_region", "region_code", postgresql_ops=REGION_OPS),
    Index(
        "uq_report_submissions_live",
        "region_code",
        "period",
        "period_start",
        unique=True,
        postgresql_where=text("status <> 'returned'"),
    ),
)


def region_listing(query: Select[Any], table: Table, prefix: str, limit: int, **equal: str | None) -> Select[Any]:
    """`query` limited to rows under a region prefix and the given column values (None: any), newest first."""
    query = query.where(table.c.region_code.startswith(prefix, autoescape=True))
    for column, value in equal.items():
        if value:
            query = query.where(table.c[column] == value)
    return query.order_by(table.c.created_at.desc()).limit(limit)
