"""Tables of the field operations (migration wf0003_field_ops): sweeps and their targets, registry
corrections, the rectification ledger. Their tasks live in the task projection like case tasks."""

from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, Select, String, Table, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB

from safetynet_workflow.tables import metadata

TZ = DateTime(timezone=True)
REGION_OPS = {"region_code": "text_pattern_ops"}

sweeps = Table(
    "sweeps",
    metadata,
    Column("sweep_id", String(64), primary_key=True),
    Column("kind", String(20), nullable=False),
    Column("region_code", String(12), nullable=False),
    Column("title", String(200), nullable=False),
    Column("target", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("targeted", Integer, nullable=False, server_default="0"),
    Column("launched_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("closed_at", TZ),
    Index("ix_sweeps_region", "region_code", postgresql_ops=REGION_OPS),
)

sweep_targets = Table(
    "sweep_targets",
    metadata,
    Column("sweep_id", String(64), primary_key=True),
    Column("household_id", String(64), primary_key=True),
    Column("region_code", String(12), nullable=False),
    Column("grid_id", String(100)),
    Column("groups", JSONB, nullable=False),
    Column("batch_no", Integer, nullable=False),
    Index("ix_sweep_targets_batch", "sweep_id", "batch_no"),
)

corrections = Table(
    "corrections",
    metadata,
    Column("correction_id", String(64), primary_key=True),
    Column("household_id", String(64), nullable=False, index=True),
    Column("region_code", String(12), nullable=False),
    Column("field", String(100), nullable=False),
    Column("member_id", String(100)),
    Column("value", JSONB, nullable=False),
    Column("reason", Text, nullable=False),
    Column("evidence", JSONB, nullable=False),
    Column("status", String(20), nullable=False),
    Column("filed_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("decided_at", TZ),
    Column("outcome", JSONB, nullable=False, server_default="{}"),
    Index("ix_corrections_region", "region_code", postgresql_ops=REGION_OPS),
)

ledger_items = Table(
    "ledger_items",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("source", String(20), nullable=False),
    Column("source_ref", String(200), nullable=False),
    Column("household_id", String(64)),
    Column("region_code", String(12), nullable=False),
    Column("problem", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("closed_at", TZ),
    Column("evidence", JSONB, nullable=False, server_default="{}"),
    UniqueConstraint("source", "source_ref", name="uq_ledger_items_source"),
    Index("ix_ledger_items_region", "region_code", postgresql_ops=REGION_OPS),
)


def region_listing(query: Select[Any], table: Table, prefix: str, limit: int, **equal: str | None) -> Select[Any]:
    """`query` limited to rows under a region prefix and the given column values (None: any), newest first."""
    query = query.where(table.c.region_code.startswith(prefix, autoescape=True))
    for column, value in equal.items():
        if value:
            query = query.where(table.c[column] == value)
    return query.order_by(table.c.created_at.desc()).limit(limit)
