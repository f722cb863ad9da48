"""Notify tables: recipients, webhook subscriptions, deliveries (outbox) and their attempts.

Revision ID: notify_0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "notify_0001"
down_revision = None
branch_labels = None
depends_on = None


STATEMENTS = """
        create table recipients (
            username text primary key,
            role text not null,
            region text not null,
            department text,
            email text,
            phone text,
            locale text not null default 'zh-CN',
            active boolean not null default true,
            updated_at timestamptz not null default now()
        );
        create index recipients_role_region on recipients (role, region);
        create table subscriptions (
            subscription_id text primary key,
            url text not null,
            secret text not null,
            events text[] not null,
            region_prefix text not null,
            created_by text not null,
            created_at timestamptz not null default now(),
            active boolean not null default true
        );
        create table deliveries (
            delivery_id bigserial primary key,
            notification_key text not null unique,
            event_key text not null,
            event_name text not null,
            case_id text not null,
            region_code text not null,
            channel text not null,
            recipient text not null,
            address text not null,
            locale text not null,
            subject text not null,
            body text not null,
            payload jsonb,
            escalation_level integer not null default 0,
            status text not null default 'pending',
            attempts integer not null default 0,
            last_error text,
            occurred_at timestamptz not null,
            created_at timestamptz not null,
            next_attempt_at timestamptz not null,
            sent_at timestamptz
        );
        create index deliveries_due on deliveries (next_attempt_at)
            where status in ('pending', 'retrying', 'deferred');
        create index deliveries_case on deliveries (case_id);
        create index deliveries_sms_sent on deliveries (address, sent_at) where channel = 'sms';
        create table delivery_attempts (
            attempt_id bigserial primary key,
            delivery_id bigint not null references deliveries (delivery_id) on delete cascade,
            attempt integer not null,
            started_at timestamptz not null,
            duration_ms integer not null,
            outcome text not null,
            error text
        );
        create index delivery_attempts_delivery on delivery_attempts (delivery_id);
"""


def upgrade() -> None:
    for statement in STATEMENTS.split(";"):
        if statement.strip():
            op.execute(statement)


def downgrade() -> None:
    for table in ("delivery_attempts", "deliveries", "subscriptions", "recipients"):
        op.execute(f"drop table {table}")
