"""Field operations: grids on users, tasks and the household directory; sweeps and their targets;
registry corrections; the rectification ledger.

Revision ID: wf0004_field_ops
Revises: wf0003_audit (until December 2026 it was wf0003_field_ops beside wf0003_audit; env.py moves
databases that recorded that id)
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "wf0004_field_ops"
down_revision = "wf0003_audit"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)
REGION_OPS = {"region_code": "text_pattern_ops"}
HOUSEHOLD_FACTS = (
    ("grid_id", sa.String(100)),
    ("poverty_status", sa.String(20)),
    ("members", sa.Integer()),
    ("in_school", sa.Integer()),
    ("no_labour", sa.Boolean()),
    ("income_pc", sa.Float()),
)


def upgrade() -> None:
    op.add_column("users", sa.Column("grid_id", sa.String(100)))
    op.add_column("tasks", sa.Column("grid_id", sa.String(100)))
    op.create_index("ix_tasks_grid", "tasks", ["grid_id", "status"], postgresql_where=sa.text("grid_id is not null"))
    for name, type_ in HOUSEHOLD_FACTS:
        op.add_column("report_households", sa.Column(name, type_))
    op.create_table(
        "sweeps",
        sa.Column("sweep_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("target", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("targeted", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("launched_by", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
    )
    op.create_index("ix_sweeps_region", "sweeps", ["region_code"], postgresql_ops=REGION_OPS)
    op.create_table(
        "sweep_targets",
        sa.Column("sweep_id", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), primary_key=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("grid_id", sa.String(100)),
        sa.Column("groups", JSONB, nullable=False),
        sa.Column("batch_no", sa.Integer(), nullable=False),
    )
    op.create_index("ix_sweep_targets_batch", "sweep_targets", ["sweep_id", "batch_no"])
    op.create_table(
        "corrections",
        sa.Column("correction_id", sa.String(64), primary_key=True),
        sa.Column("household_id", sa.String(64), nullable=False, index=True),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("field", sa.String(100), nullable=False),
        sa.Column("member_id", sa.String(100)),
        sa.Column("value", JSONB, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", JSONB, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("filed_by", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("decided_at", TZ),
        sa.Column("outcome", JSONB, nullable=False, server_default="{}"),
    )
    op.create_index("ix_corrections_region", "corrections", ["region_code"], postgresql_ops=REGION_OPS)
    op.create_table(
        "ledger_items",
        sa.Column("item_id", sa.String(64), primary_key=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_ref", sa.String(200), nullable=False),
        sa.Column("household_id", sa.String(64)),
        sa.Column("region_code", sa.String(12), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("closed_at", TZ),
        sa.Column("evidence", JSONB, nullable=False, server_default="{}"),
        sa.UniqueConstraint("source", "source_ref", name="uq_ledger_items_source"),
    )
    op.create_index("ix_ledger_items_region", "ledger_items", ["region_code"], postgresql_ops=REGION_OPS)


def downgrade() -> None:
    for table in ("ledger_items", "corrections", "sweep_targets", "sweeps"):
        op.drop_table(table)
    for name, _ in HOUSEHOLD_FACTS:
        op.drop_column("report_households", name)
    op.drop_index("ix_tasks_grid", "tasks")
    op.drop_column("tasks", "grid_id")
    op.drop_column("users", "grid_id")
