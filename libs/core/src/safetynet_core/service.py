"""Service plumbing: background loops that survive transient failures, and service identity."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from safetynet_core.logging import get_logger

log = get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class ServiceInfo:
    """What the CLI and the stack scripts need to know about a service."""

    name: str
    schema: str
    port: int
    migrations_dir: Path
    app_factory: str


async def supervise(name: str, loop_body: Callable[[], Awaitable[None]], backoff_max: float = 10.0) -> None:
    """Run a long-lived loop, restarting it with backoff when it crashes, until cancelled."""
    delay = 0.5
    while True:
        try:
            await loop_body()
            return
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            # Cancelled from inside (aiokafka cancels its own futures when a client dies): a crash, not a stop.
            log.error("background_loop_cancelled_from_inside", loop=name, restart_in=delay)
        except Exception:
            log.exception("background_loop_crashed", loop=name, restart_in=delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, backoff_max)


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even when a loop is already running in this thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: list[T] = []
    error: list[BaseException] = []

    def in_thread() -> None:
        try:
            result.append(asyncio.run(coro))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    worker = threading.Thread(target=in_thread)
    worker.start()
    worker.join()
    if error:
        raise error[0]
    return result[0]
