"""Case-worker accounts (the `users` table) and their login sessions (every token names its session)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert

from safetynet_core.db import Database
from safetynet_workflow.tables import sessions, users


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

    async def open_session(self, username: str, ttl: timedelta) -> str:
        """A new login session; its id goes into the user's token."""
        session_id = secrets.token_urlsafe(24)
        now = datetime.now(UTC)
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                insert(sessions).values(session_id=session_id, username=username, created_at=now, expires_at=now + ttl)
            )
            await uow.commit()
        return session_id

    async def session_active(self, session_id: str | None, username: str) -> bool:
        """The session exists, is neither revoked nor expired, belongs to `username`, and the user is active."""
        if not session_id:
            return False
        query = (
            select(sessions.c.session_id)
            .join(users, users.c.username == sessions.c.username)
            .where(
                sessions.c.session_id == session_id,
                sessions.c.username == username,
                sessions.c.revoked_at.is_(None),
                sessions.c.expires_at > datetime.now(UTC),
                users.c.active,
            )
        )
        async with self.db.unit_of_work() as uow:
            return (await uow.execute(query)).first() is not None

    async def revoke_session(self, session_id: str) -> None:
        """Logout: the session's tokens fail from now on, in every service."""
        async with self.db.unit_of_work() as uow:
            await uow.execute(
                update(sessions)
                .where(sessions.c.session_id == session_id, sessions.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            )
            await uow.commit()

    async def deactivate(self, username: str) -> bool:
        """The user can no longer log in and every open session of theirs is revoked. False when unknown."""
        now = datetime.now(UTC)
        async with self.db.unit_of_work() as uow:
            found = await uow.execute(update(users).where(users.c.username == username).values(active=False))
            await uow.execute(
                update(sessions)
                .where(sessions.c.username == username, sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            await uow.commit()
        return bool(found.rowcount)
