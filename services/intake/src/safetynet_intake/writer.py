"""Group commit for single-event posts: concurrent requests hand their rows to a few writer tasks, each
of which writes everything waiting in one statement and resolves every request after the commit.

Nothing is answered before its row and outbox row are committed; there is no added wait (a writer takes
whatever queued while the previous write was in flight), so a lone request costs one round trip as before."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

import asyncpg

from safetynet_core.logging import get_logger
from safetynet_intake import metrics
from safetynet_intake.store import EventRow, Outcome, write_events

log = get_logger(__name__)
Pending = tuple[EventRow, "asyncio.Future[Outcome]"]


class WriterClosed(RuntimeError):
    """The writer stopped before this event was written (the app is shutting down)."""


class EventWriter:
    """`await write(row)` returns the row's outcome once it is durably stored (or raises the write's error)."""

    def __init__(self, pool: asyncpg.Pool, topic: str, notify: bool, writers: int, max_group: int) -> None:
        self._pool = pool
        self._topic = topic
        self._notify = notify
        self._writers = writers
        self._max_group = max_group
        self._pending: deque[Pending] = deque()
        self._ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._run(), name=f"event-writer-{n}") for n in range(self._writers)]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        while self._pending:
            _, future = self._pending.popleft()
            if not future.done():
                future.set_exception(WriterClosed("intake is shutting down; the event was not stored"))

    async def write(self, row: EventRow) -> Outcome:
        if not self._tasks:
            raise WriterClosed("the event writer is not running")
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        self._ready.set()
        return await future

    async def _run(self) -> None:
        while True:
            await self._ready.wait()
            group = [self._pending.popleft() for _ in range(min(self._max_group, len(self._pending)))]
            if not self._pending:
                self._ready.clear()
            if group:
                await self._commit(group)

    async def _commit(self, group: list[Pending]) -> None:
        """Write a group; when it fails as a whole, write its rows one by one so one bad row fails alone."""
        try:
            async with self._pool.acquire() as conn:
                outcomes = await write_events(conn, [row for row, _ in group], self._topic, self._notify)
        except asyncio.CancelledError:
            for _, future in group:
                if not future.done():
                    future.set_exception(WriterClosed("intake is shutting down; the event may not be stored"))
            raise
        except Exception as exc:
            if len(group) > 1:
                log.warning("event_group_write_failed", size=len(group), error=f"{type(exc).__name__}: {exc}"[:300])
                for pending in group:
                    await self._commit([pending])
                return
            if not group[0][1].done():
                group[0][1].set_exception(exc)
            return
        metrics.WRITE_GROUP_SIZE.observe(len(group))
        for (_, future), outcome in zip(group, outcomes, strict=True):
            if not future.done():
                future.set_result(outcome)
