"""Login sessions: every token names its session, so logout and deactivation revoke it at once.

Revision ID: wf0006_sessions
Revises: wf0005_lifecycle
"""

import sqlalchemy as sa
from alembic import op

revision = "wf0006_sessions"
down_revision = "wf0005_lifecycle"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("username", sa.String(100), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("revoked_at", TZ),
    )
    op.create_index("ix_sessions_username", "sessions", ["username"])


def downgrade() -> None:
    op.drop_table("sessions")
