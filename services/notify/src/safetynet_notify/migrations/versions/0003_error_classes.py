"""Notify: delivery errors keep their class only (an HTTP status, an exception class); what receivers
answered (up to 200 characters of the body were kept) and exception texts are dropped from stored rows.

Revision ID: notify_0003
Revises: notify_0002
Create Date: 2026-12-06
"""

from alembic import op

revision = "notify_0003"
down_revision = "notify_0002"
branch_labels = None
depends_on = None

# "HTTP 500: <body>", "ConnectError: <text>", "recipient refused: <text>" -> the part before the colon.
_WITH_DETAIL = r"'^(HTTP [0-9]{3}|[A-Za-z_.]*(Error|Exception|Timeout|Refused)|recipient refused): '"


def upgrade() -> None:
    op.execute(f"update deliveries set last_error = split_part(last_error, ':', 1) where last_error ~ {_WITH_DETAIL}")
    op.execute(f"update delivery_attempts set error = split_part(error, ':', 1) where error ~ {_WITH_DETAIL}")


def downgrade() -> None:
    pass  # the dropped details are gone
