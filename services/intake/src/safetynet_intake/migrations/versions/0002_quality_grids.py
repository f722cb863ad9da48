"""Intake: registry data-quality issues, peppered ID-number hashes for the duplicate check, grids and
the log of grid moves.

Revision ID: intake_0002
Revises: intake_0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "intake_0002"
down_revision = "intake_0001"
branch_labels = None
depends_on = None


STATEMENTS = [
    """
    create table data_quality_issues (
        issue_id bigserial primary key,
        household_id text not null,
        region_code text not null,
        check_name text not null,
        rule text not null,
        field text not null,
        message text not null,
        other_household_id text,
        detected_at timestamptz not null,
        resolved_at timestamptz
    )
    """,
    """
    create unique index data_quality_open on data_quality_issues
        (household_id, check_name, rule, field, coalesce(other_household_id, '')) where resolved_at is null
    """,
    """
    create index data_quality_region on data_quality_issues (region_code text_pattern_ops, detected_at desc)
    """,
    """
    create index data_quality_household on data_quality_issues (household_id)
    """,
    """
    create index data_quality_partner on data_quality_issues (other_household_id) where resolved_at is null
    """,
    """
    create table member_id_hashes (
        household_id text not null,
        member_id text not null,
        id_hash text not null,
        primary key (household_id, member_id)
    )
    """,
    """
    create index member_id_hashes_hash on member_id_hashes (id_hash)
    """,
    """
    create table grids (
        grid_id text primary key,
        region_code text not null,
        grid_worker_username text,
        updated_at timestamptz not null default now()
    )
    """,
    """
    create table grid_moves (
        move_id bigserial primary key,
        household_id text not null,
        from_grid_id text,
        to_grid_id text not null,
        moved_by text not null,
        source text not null,
        moved_at timestamptz not null
    )
    """,
    """
    create index grid_moves_household on grid_moves (household_id, moved_at)
    """,
    """
    create index households_grid on households (grid_id) where grid_id is not null
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("drop index households_grid")
    for table in ("grid_moves", "grids", "member_id_hashes", "data_quality_issues"):
        op.execute(f"drop table {table}")
