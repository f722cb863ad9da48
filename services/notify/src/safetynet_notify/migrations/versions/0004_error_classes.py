"""Notify: delivery errors keep their class only (an HTTP status, an exception class); what receivers
answered (up to 200 characters of the body were kept) and exception texts are dropped from stored rows.

Revision ID: notify_0004_error_classes
Revises: notify_0003_departments
Create Date: 2026-12-06
"""

from alembic import op

revision = "notify_0004_error_classes"
down_revision = "notify_0003_departments"
branch_labels = None
depends_on = None

# "HTTP 500: <body>", "ConnectError: <text>", "recipient refused: <text>" -> the part before the colon.
_WITH_DETAIL = r"'^(HTTP [0-9]{3}|[A-Za-z_.]*(Error|Exception|Timeout|Refused)|recipient refused): '"


def upgrade() -> None:
    op.execute(f"update deliveries set last_error = split_part(last_error, ':', 1) where last_error ~ {_WITH_DETAIL}")
    op.execute(f"update delivery_attempts set error = split_part(error, ':', 1) where error ~ {_WITH_DETAIL}")


def downgrade() -> None:
    pass  # the dropped details are gone
