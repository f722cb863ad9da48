"""Oversight: the region directory (seeded with 陇县, its ten towns and the demo's villages), upward report
submissions, the reasons of each assessment in the reporting table (the 应纳未纳 list shows them) and an
index for the case list's pages.

Revision ID: wf0007_oversight
Revises: wf0006_sessions
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from safetynet_workflow.regions.models import default_regions

revision = "wf0007_oversight"
down_revision = "wf0006_sessions"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    regions = op.create_table(
        "regions",
        sa.Column("code", sa.String(12), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("parent", sa.String(12)),
        sa.Column("updated_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_regions_parent", "regions", ["parent"])
    op.bulk_insert(regions, [r.model_dump(mode="json") for r in default_regions()])
    op.create_table(
        "report_submissions",
        sa.Column("submission_id", sa.String(64), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_at", TZ, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("summary", JSONB(), nullable=False),
        sa.Column("submitted_by", sa.String(100), nullable=False),
        sa.Column("submitted_at", TZ, nullable=False),
        sa.Column("reviewed_by", sa.String(100)),
        sa.Column("reviewed_at", TZ),
        sa.Column("review_note", sa.Text()),
    )
    op.create_index(
        "ix_report_submissions_region",
        "report_submissions",
        ["region_code"],
        postgresql_ops={"region_code": "text_pattern_ops"},
    )
    op.create_index(
        "uq_report_submissions_live",
        "report_submissions",
        ["region_code", "period", "period_start"],
        unique=True,
        postgresql_where=sa.text("status <> 'returned'"),
    )
    op.add_column("report_assessments", sa.Column("reasons", JSONB(), nullable=False, server_default="[]"))
    op.create_index("ix_cases_opened", "cases", ["opened_at", "case_id"])


def downgrade() -> None:
    op.drop_index("ix_cases_opened", "cases")
    op.drop_column("report_assessments", "reasons")
    op.drop_table("report_submissions")
    op.drop_table("regions")
