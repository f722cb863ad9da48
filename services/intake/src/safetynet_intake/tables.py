"""Tables owned by the intake service (its own Postgres schema)."""

from sqlmodel import SQLModel

metadata = SQLModel.metadata
