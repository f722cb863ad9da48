"""Tables owned by the workflow service (its own Postgres schema)."""

from sqlmodel import SQLModel

metadata = SQLModel.metadata
