"""Notify: exchange purposes for every department — registry facts of households (from the public
household-events topic), inclusion and closure per case, and changes per member or measure task
(`subject`), so one case can give a purpose several records.

Revision ID: notify_0003_departments
Revises: notify_0002
Create Date: 2026-12-06
"""

from alembic import op

revision = "notify_0003_departments"
down_revision = "notify_0002"
branch_labels = None
depends_on = None


STATEMENTS = [
    """
    create table exchange_households (
        household_id text primary key,
        region_code text not null,
        members jsonb not null,
        recorded_at timestamptz not null,
        updated_at timestamptz not null
    )
    """,
    "alter table exchange_case_facts add column region_code text",
    "alter table exchange_case_facts add column included_at timestamptz",
    "alter table exchange_case_facts add column closed_at timestamptz",
    "create index exchange_case_facts_household on exchange_case_facts (household_id)",
    "alter table exchange_changes add column subject text not null default ''",
    "alter table exchange_changes drop constraint exchange_changes_purpose_case_id_key",
    "alter table exchange_changes add constraint exchange_changes_subject_key unique (purpose, case_id, subject)",
]


def upgrade() -> None:
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    op.execute("alter table exchange_changes drop constraint exchange_changes_subject_key")
    op.execute("delete from exchange_changes where subject <> ''")
    op.execute("alter table exchange_changes add constraint exchange_changes_purpose_case_id_key unique (purpose, case_id)")
    op.execute("alter table exchange_changes drop column subject")
    op.execute("drop index exchange_case_facts_household")
    for column in ("closed_at", "included_at", "region_code"):
        op.execute(f"alter table exchange_case_facts drop column {column}")
    op.execute("drop table exchange_households")
