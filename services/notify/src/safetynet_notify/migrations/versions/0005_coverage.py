"""Notify: what departments reported about members' insurance, employment and deaths (from the public
household-events topic), for the coverage checks of included households.

Revision ID: notify_0005_coverage
Revises: notify_0004_error_classes
Create Date: 2026-12-07
"""

from alembic import op

revision = "notify_0005_coverage"
down_revision = "notify_0004_error_classes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        create table exchange_coverage_facts (
            department text not null,
            event_id text not null,
            household_id text not null,
            member_id text not null,
            kind text not null,
            covered boolean not null,
            effective date not null,
            year integer,
            occurred_at timestamptz not null,
            primary key (department, event_id)
        )
        """
    )
    op.execute("create index exchange_coverage_facts_household on exchange_coverage_facts (household_id)")


def downgrade() -> None:
    op.execute("drop table exchange_coverage_facts")
