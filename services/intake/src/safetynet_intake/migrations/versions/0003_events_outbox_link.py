"""Intake: an event row names its outbox row, so `published` is read from the outbox and the relay
no longer rewrites every event it publishes; the primary key leads with event_id, which makes the
separate event_id index redundant (one index fewer to maintain per accepted event).

Revision ID: intake_0003
Revises: intake_0002
Create Date: 2026-11-23
"""

from alembic import op

revision = "intake_0003"
down_revision = "intake_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("alter table events add column outbox_id bigint")
    # Rows written before this revision keep the status the relay gave them.
    op.execute("alter table events drop constraint events_pkey")
    op.execute("alter table events add primary key (event_id, client_id)")
    op.execute("drop index events_event_id")


def downgrade() -> None:
    op.execute(
        "update events e set status = 'published', published_at = o.published_at from outbox o"
        " where o.id = e.outbox_id and e.status = 'accepted' and o.published_at is not null"
    )
    op.execute("create index events_event_id on events (event_id)")
    op.execute("alter table events drop constraint events_pkey")
    op.execute("alter table events add primary key (client_id, event_id)")
    op.execute("alter table events drop column outbox_id")
