"""Service plumbing: background loops that survive transient failures, and service identity."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from safetynet_core.logging import get_logger

log = get_logger(__name__)


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
            raise
        except Exception:
            log.exception("background_loop_crashed", loop=name, restart_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff_max)
