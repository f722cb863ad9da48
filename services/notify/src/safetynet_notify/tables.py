"""Tables owned by the notify service (its own Postgres schema)."""

from sqlmodel import SQLModel

metadata = SQLModel.metadata
