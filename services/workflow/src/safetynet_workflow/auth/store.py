"""Case-worker accounts (the `users` table)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_workflow.tables import users


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def user(self, username: str) -> dict[str, Any] | None:
        """An active user's row."""
        async with self.db.unit_of_work() as uow:
            row = (await uow.execute(select(users).where(users.c.username == username, users.c.active))).first()
        return dict(row._mapping) if row else None

    async def upsert_user(self, row: dict[str, Any]) -> None:
        stmt = insert(users).values(**row, created_at=datetime.now(UTC))
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                stmt.on_conflict_do_update(
                    index_elements=["username"], set_={k: stmt.excluded[k] for k in row if k != "username"}
                )
            )
            await uow.commit()
