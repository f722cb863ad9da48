"""Case states: what risk knows of each household's case (from the case-events topic) and every opening
and closure it heard of; `households.monitored` gives way to them (an open case is what monitored means;
the households it flagged start with an open case until their case events say otherwise).

Revision ID: risk_0002
Revises: risk_0001
Create Date: 2026-12-07
"""

from alembic import op

revision = "risk_0002"
down_revision = "risk_0001"
branch_labels = None
depends_on = None

STATEMENTS = [
    """
    create table case_states (
        household_id text primary key,
        case_open boolean not null default false,
        case_id text,
        changed_at timestamptz,
        closed_at timestamptz,
        close_reason text,
        closed_case_id text,
        updated_at timestamptz not null default now()
    )
    """,
    """
    create table case_history (
        event_key text primary key,
        household_id text not null,
        case_id text not null,
        closes boolean not null,
        occurred_at timestamptz not null,
        close_reason text not null default '',
        reopened boolean not null default false,
        received_at timestamptz not null default now()
    )
    """,
    "create index case_history_household on case_history (household_id, occurred_at)",
    # The old flag's households start with a case of unknown id open since the epoch (their openings may be
    # past the topic's retention); any case event of theirs is later and decides.
    """
    insert into case_states (household_id, case_open, changed_at)
    select household_id, true, timestamptz '1970-01-01 00:00:00+00' from households where monitored
    """,
    "alter table households drop column monitored",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("alter table households add column monitored boolean not null default false")
    op.execute("drop table if exists case_history")
    op.execute("drop table if exists case_states")
