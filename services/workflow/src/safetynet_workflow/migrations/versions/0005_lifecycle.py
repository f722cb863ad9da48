"""The case lifecycle: the household's registry facts on the case and in the household directory (size,
members who can work, the head's name), the verified income and the responsible cadre (帮扶责任人).

Revision ID: wf0005_lifecycle
Revises: wf0004_field_ops
"""

import sqlalchemy as sa
from alembic import op

revision = "wf0005_lifecycle"
down_revision = "wf0004_field_ops"
branch_labels = None
depends_on = None

CASE_COLUMNS = (
    ("household_size", sa.Integer()),
    ("labour_members", sa.Integer()),
    ("head_name", sa.String(100)),
    ("verified_income_cny", sa.Float()),
    ("responsible", sa.String(100)),
)
HOUSEHOLD_COLUMNS = (("labour_members", sa.Integer()), ("head_name", sa.String(100)))


def upgrade() -> None:
    for name, type_ in CASE_COLUMNS:
        op.add_column("cases", sa.Column(name, type_))
    for name, type_ in HOUSEHOLD_COLUMNS:
        op.add_column("report_households", sa.Column(name, type_))
    op.create_index("ix_tasks_assignee", "tasks", ["assignee", "status"])


def downgrade() -> None:
    op.drop_index("ix_tasks_assignee", "tasks")
    for name, _ in HOUSEHOLD_COLUMNS:
        op.drop_column("report_households", name)
    for name, _ in CASE_COLUMNS:
        op.drop_column("cases", name)
