"""Intake tables: API clients, household registry, events, transactional outbox.

Revision ID: intake_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "intake_0001"
down_revision = None
branch_labels = None
depends_on = None


STATEMENTS = [
    """
    create table api_clients (
        client_id text primary key,
        department text not null,
        name text not null,
        event_types text[] not null,
        registry_write boolean not null default false,
        key_hash text not null,
        created_at timestamptz not null default now(),
        revoked_at timestamptz
    )
    """,
    """
    create table households (
        household_id text primary key,
        client_id text not null,
        region_code text not null,
        poverty_status text not null,
        annual_net_income_cny double precision not null,
        head_member_id text not null,
        members jsonb not null,
        phone text,
        grid_id text,
        record_hash text not null,
        updated_at timestamptz not null default now()
    )
    """,
    """
    create index households_region_code on households (region_code text_pattern_ops)
    """,
    """
    create table events (
        client_id text not null,
        event_id text not null,
        department text not null,
        type text not null,
        household_id text not null,
        member_id text,
        reference text,
        occurred_at timestamptz not null,
        received_at timestamptz not null,
        body_hash text not null,
        payload jsonb not null,
        status text not null default 'accepted',
        published_at timestamptz,
        assessment_id text,
        assessed_at timestamptz,
        case_id text,
        primary key (client_id, event_id)
    ) with (fillfactor = 80)
    """,
    """
    create index events_event_id on events (event_id)
    """,
    """
    create index events_awaiting_case on events (household_id) where status = 'assessed' and case_id is null
    """,
    """
    create table outbox (
        id bigserial primary key,
        topic text not null,
        key text not null,
        value bytea not null,
        client_id text,
        event_id text,
        created_at timestamptz not null default now(),
        published_at timestamptz
    )
    """,
    """
    create index outbox_unpublished on outbox (id) where published_at is null
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("outbox", "events", "households", "api_clients"):
        op.execute(f"drop table {table}")
