"""Notify: outbound data exchange — subscriptions per department and purpose, the change feed (records
already cut to the purpose's fields), facts remembered per case, and the access log of pulls and pushes.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-12-01
"""

from alembic import op

revision = "notify_0002"
down_revision = "notify_0001"
branch_labels = None
depends_on = None


STATEMENTS = [
    """
    create table exchange_subscriptions (
        subscription_id text primary key,
        department text not null,
        purpose text not null,
        mode text not null check (mode in ('pull', 'push')),
        url text,
        region_prefix text not null,
        created_by text not null,
        created_at timestamptz not null default now(),
        active boolean not null default true
    )
    """,
    """
    create index exchange_subscriptions_purpose on exchange_subscriptions (purpose, department) where active
    """,
    """
    create table exchange_case_facts (
        case_id text primary key,
        household_id text not null,
        category text,
        risk_types jsonb,
        updated_at timestamptz not null
    )
    """,
    """
    create table exchange_changes (
        change_id bigserial primary key,
        purpose text not null,
        case_id text not null,
        household_id text not null,
        region_code text not null,
        record jsonb not null,
        occurred_at timestamptz not null,
        created_at timestamptz not null,
        unique (purpose, case_id)
    )
    """,
    """
    create index exchange_changes_feed on exchange_changes (purpose, change_id)
    """,
    """
    create table exchange_access_log (
        access_id bigserial primary key,
        purpose text not null,
        department text not null,
        mode text not null,
        actor text not null,
        subscription_id text,
        region_prefix text not null,
        since bigint,
        records integer not null,
        change_ids bigint[] not null,
        at timestamptz not null
    )
    """,
    """
    create index exchange_access_log_purpose on exchange_access_log (purpose, access_id)
    """,
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in ("exchange_access_log", "exchange_changes", "exchange_case_facts", "exchange_subscriptions"):
        op.execute(f"drop table {table}")
