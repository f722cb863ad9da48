"""Workflow projection: cases, tasks, timeline, escalations, users.

Revision ID: wf0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "wf0001"
down_revision = None
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(64), primary_key=True),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("close_reason", sa.String(40)),
        sa.Column("category", sa.String(40), nullable=False, server_default=""),
        sa.Column("level", sa.String(20), nullable=False, server_default=""),
        sa.Column("score", sa.Float, nullable=False, server_default="0"),
        sa.Column("risk_types", JSONB, nullable=False, server_default="[]"),
        sa.Column("green_channel", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("labour", sa.Boolean),
        sa.Column("policy_version", sa.String(40), nullable=False),
        sa.Column("opened_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
        sa.Column("step_since", TZ, nullable=False),
        sa.Column("identification_due_at", TZ),
        sa.Column("identified_at", TZ),
        sa.Column("identification_breached", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("notice_until", TZ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_index("ix_cases_household_id", "cases", ["household_id"])
    op.create_index("ix_cases_region", "cases", ["region_code"], postgresql_ops={"region_code": "text_pattern_ops"})
    op.create_index("ix_cases_closed", "cases", ["status", "closed_at"])
    op.create_table(
        "tasks",
        sa.Column("task_id", sa.String(160), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(200), nullable=False),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("department", sa.String(40)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee", sa.String(100)),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("escalation_level", sa.Integer, nullable=False, server_default="0"),
        sa.Column("overdue", sa.Boolean, nullable=False, server_default="false"),
        sa.Column("subject", JSONB, nullable=False, server_default="{}"),
        sa.Column("form", JSONB),
        sa.Column("completed_by", sa.String(100)),
        sa.Column("completed_at", TZ),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_tasks_case_id", "tasks", ["case_id"])
    op.create_index("ix_tasks_inbox", "tasks", ["status", "role", "region_code"],
                    postgresql_ops={"region_code": "text_pattern_ops"})
    op.create_table(
        "timeline",
        sa.Column("event_key", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(60), nullable=False),
        sa.Column("task_id", sa.String(160)),
        sa.Column("at", TZ, nullable=False),
        sa.Column("details", JSONB, nullable=False, server_default="{}"),
        sa.Column("published", sa.Boolean, nullable=False, server_default="false"),
    )
    op.create_index("ix_timeline_case", "timeline", ["case_id", "at"])
    op.create_table(
        "escalations",
        sa.Column("event_key", sa.String(200), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("task_id", sa.String(160), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("from_level", sa.String(20), nullable=False),
        sa.Column("to_level", sa.String(20), nullable=False),
        sa.Column("from_role", sa.String(40), nullable=False),
        sa.Column("to_role", sa.String(40), nullable=False),
        sa.Column("escalation_level", sa.Integer, nullable=False),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_index("ix_escalations_case_id", "escalations", ["case_id"])
    op.create_table(
        "users",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.Text, nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("department", sa.String(40)),
        sa.Column("email", sa.String(200)),
        sa.Column("phone", sa.String(40)),
        sa.Column("active", sa.Boolean, nullable=False, server_default="true"),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in ("users", "escalations", "timeline", "tasks", "cases"):
        op.drop_table(table)
