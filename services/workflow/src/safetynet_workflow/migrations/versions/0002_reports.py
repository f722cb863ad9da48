"""Reporting tables: households' regions, department events, assessments, assessed event ids.

Revision ID: wf0002_reports
Revises: wf0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "wf0002_reports"
down_revision = "wf0001"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
REGION_OPS = {"region_code": "text_pattern_ops"}


def upgrade() -> None:
    op.create_table(
        "report_households",
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("recorded_at", TZ, nullable=False),
    )
    op.create_index("ix_report_households_region", "report_households", ["region_code"], postgresql_ops=REGION_OPS)
    op.create_table(
        "report_events",
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("department", sa.String(40), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("occurred_at", TZ, nullable=False),
        sa.Column("received_at", TZ, nullable=False),
    )
    op.create_index("ix_report_events_household_id", "report_events", ["household_id"])
    op.create_index("ix_report_events_received", "report_events", ["received_at"])
    op.create_table(
        "report_assessments",
        sa.Column("assessment_id", sa.String(100), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("category", sa.String(40), nullable=False, server_default=""),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("risk_types", JSONB, nullable=False, server_default="[]"),
        sa.Column("warnings", JSONB, nullable=False, server_default="[]"),
        sa.Column("opens_case", sa.Boolean, nullable=False),
        sa.Column("assessed_at", TZ, nullable=False),
    )
    op.create_index("ix_report_assessments_household", "report_assessments", ["household_id", "assessed_at"])
    op.create_index("ix_report_assessments_region", "report_assessments", ["region_code"], postgresql_ops=REGION_OPS)
    op.create_table(
        "report_assessed_events",
        sa.Column("event_id", sa.String(100), primary_key=True),
        sa.Column("assessment_id", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    for table in ("report_assessed_events", "report_assessments", "report_events", "report_households"):
        op.drop_table(table)
