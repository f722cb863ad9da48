"""Intake: an API client may be bound to a region (administrative division code prefix); a bound client
writes households and events only inside it.

Revision ID: intake_0004
Revises: intake_0003
Create Date: 2026-12-06
"""

from alembic import op

revision = "intake_0004"
down_revision = "intake_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table api_clients add column region_prefix text")


def downgrade() -> None:
    op.execute("alter table api_clients drop column region_prefix")
