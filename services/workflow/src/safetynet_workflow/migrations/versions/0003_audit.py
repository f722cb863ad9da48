"""Append-only audit log of every state change on a case (who, what, when); UPDATE, DELETE and
TRUNCATE on it are refused by triggers.

Revision ID: wf0003_audit
Revises: wf0002_reports
"""

import sqlalchemy as sa
from alembic import op

revision = "wf0003_audit"
down_revision = "wf0002_reports"
branch_labels = None
depends_on = None

TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("audit_id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("event_key", sa.String(200), nullable=False),
        sa.Column("action", sa.String(60), nullable=False),
        sa.Column("task_id", sa.String(160)),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("case_status", sa.String(20), nullable=False),
        sa.Column("case_step", sa.String(20), nullable=False),
        sa.Column("at", TZ, nullable=False),
        sa.Column("recorded_at", TZ, nullable=False, server_default=sa.func.now()),
    )
    op.create_index("ix_audit_log_case", "audit_log", ["case_id", "audit_id"])
    op.execute(
        """
        create function audit_log_append_only() returns trigger language plpgsql as $$
        begin
          raise exception 'audit_log is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
        end
        $$
        """
    )
    op.execute(
        "create trigger audit_log_no_change before update or delete on audit_log "
        "for each row execute function audit_log_append_only()"
    )
    op.execute(
        "create trigger audit_log_no_truncate before truncate on audit_log "
        "for each statement execute function audit_log_append_only()"
    )


def downgrade() -> None:
    op.drop_table("audit_log")
    op.execute("drop function audit_log_append_only()")
