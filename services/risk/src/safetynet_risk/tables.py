"""Tables owned by the risk service (its own Postgres schema)."""

from sqlmodel import SQLModel

metadata = SQLModel.metadata
