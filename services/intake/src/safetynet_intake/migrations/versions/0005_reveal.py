"""Intake: full ID numbers sealed (AES-GCM, the key is intake's alone) for the audited reveal, and the
append-only log of every reveal (who, when, why; UPDATE, DELETE and TRUNCATE are refused by triggers).

Revision ID: intake_0005
Revises: intake_0004
Create Date: 2026-12-06
"""

from alembic import op

from safetynet_core.db import append_only_statements

revision = "intake_0005"
down_revision = "intake_0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table member_id_numbers (
            household_id text not null,
            member_id text not null,
            sealed bytea not null,
            key_id text not null,
            primary key (household_id, member_id)
        )
        """
    )
    op.execute(
        """
        create table reveal_audit (
            reveal_id bigint generated always as identity primary key,
            household_id text not null,
            member_id text not null,
            region_code text not null,
            username text not null,
            role text not null,
            reason text not null,
            revealed_at timestamptz not null
        )
        """
    )
    op.execute("create index reveal_audit_region on reveal_audit (region_code text_pattern_ops, reveal_id)")
    for statement in append_only_statements("reveal_audit"):
        op.execute(statement)


def downgrade() -> None:
    op.execute("drop table reveal_audit")
    op.execute("drop function reveal_audit_append_only()")
    op.execute("drop table member_id_numbers")
