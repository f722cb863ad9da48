"""Login throttling: every password check is recorded before it runs (counted against its username and
its client address, across all workflow processes); a successful one is removed again.

Revision ID: wf0009_security
Revises: wf0008_coverage
"""

import sqlalchemy as sa
from alembic import op

revision = "wf0009_security"
down_revision = "wf0008_coverage"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("attempt_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("address_key", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_login_attempts_user", "login_attempts", ["user_key", "at"])
    op.create_index("ix_login_attempts_address", "login_attempts", ["address_key", "at"])
    op.create_index("ix_login_attempts_at", "login_attempts", ["at"])


def downgrade() -> None:
    op.drop_table("login_attempts")
