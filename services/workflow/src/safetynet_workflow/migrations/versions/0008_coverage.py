"""Coverage checks: members' insurance, employment and deaths as departments reported them, and each
household's registry members (id, name, labour capacity), from the household-events topic.

Revision ID: wf0008_coverage
Revises: wf0006_sessions
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "wf0008_coverage"
down_revision = "wf0006_sessions"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "report_coverage_facts",
        sa.Column("department", sa.String(40), primary_key=True),
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("member_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("covered", sa.Boolean, nullable=False),
        sa.Column("effective", sa.Date, nullable=False),
        sa.Column("year", sa.Integer),
        sa.Column("occurred_at", TZ, nullable=False),
    )
    op.create_index("ix_report_coverage_facts_household_id", "report_coverage_facts", ["household_id"])
    op.create_table(
        "report_coverage_members",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("members", JSONB, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("report_coverage_members")
    op.drop_table("report_coverage_facts")
