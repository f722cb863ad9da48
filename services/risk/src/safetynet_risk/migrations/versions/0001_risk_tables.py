"""Risk tables: household registry baselines, every fact (idempotent by event id), assessments.

Revision ID: risk_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "risk_0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    create table households (
        household_id text primary key,
        region_code text not null,
        poverty_status text not null,
        annual_net_income_cny double precision not null,
        members jsonb not null,
        recorded_at timestamptz not null,
        record_event_id text not null,
        monitored boolean not null default false,
        updated_at timestamptz not null default now()
    )
    """,
    "create index households_region on households (region_code text_pattern_ops)",
    """
    create table facts (
        event_id text primary key,
        seq bigserial not null unique,
        household_id text not null,
        type text not null,
        member_id text not null default '',
        occurred_at timestamptz not null,
        payload jsonb not null,
        received_at timestamptz not null default now(),
        assessment_id text
    )
    """,
    "create index facts_household on facts (household_id, occurred_at)",
    "create index facts_pending on facts (household_id) where assessment_id is null",
    """
    create table assessments (
        assessment_id text primary key,
        household_id text not null,
        region_code text not null,
        category text,
        level text not null,
        score double precision not null,
        risk_types text[] not null,
        warnings text[] not null,
        reasons jsonb not null,
        opens_case boolean not null,
        policy_version text not null,
        event_ids text[] not null,
        assessed_at timestamptz not null,
        as_of timestamptz not null,
        fact_seq bigint not null,
        income_pc double precision not null,
        adjusted_income_pc double precision not null,
        poverty_status text not null,
        published_at timestamptz
    )
    """,
    "create index assessments_household on assessments (household_id, assessed_at desc)",
    "create index assessments_unpublished on assessments (assessed_at) where published_at is null",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("assessments", "facts", "households"):
        op.execute(f"drop table if exists {table}")
