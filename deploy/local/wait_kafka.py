"""Wait until a Kafka cluster answers an admin ``list_topics()`` call.

Readiness here means "a real admin client can talk to the broker", not "a port
is open": the broker accepts TCP connections a while before it has joined the
KRaft quorum and can serve metadata.

Usage: python deploy/local/wait_kafka.py [--bootstrap HOST:PORT] [--timeout SECONDS]
       [--pid PID]

Exit status 0 when ready (prints the number of topics), 1 on timeout, 2 when
``--pid`` is given and that process dies while we wait.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time


def _alive(pid: int) -> bool:
    """True if the process exists and is not a zombie (os.kill(pid, 0) succeeds on zombies)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (FileNotFoundError, ProcessLookupError):
        return False
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _try_once(bootstrap: str, attempt_timeout: float) -> list[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=int(attempt_timeout * 1000),
        client_id="safetynet-wait-kafka",
    )
    try:
        await asyncio.wait_for(admin.start(), timeout=attempt_timeout)
        topics = await asyncio.wait_for(admin.list_topics(), timeout=attempt_timeout)
        return sorted(topics)
    finally:
        with contextlib.suppress(Exception):  # best-effort cleanup
            await asyncio.wait_for(admin.close(), timeout=5)


async def wait(bootstrap: str, deadline_s: float, pid: int | None, quiet: bool) -> int:
    deadline = time.monotonic() + deadline_s
    last_error: BaseException | None = None
    attempt = 0
    while True:
        attempt += 1
        if pid is not None and not _alive(pid):
            print(f"wait_kafka: process {pid} exited while waiting", file=sys.stderr)
            return 2
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            topics = await _try_once(bootstrap, max(1.0, min(10.0, remaining)))
        except Exception as exc:  # any failure means "not ready yet"
            last_error = exc
        else:
            if not quiet:
                print(f"wait_kafka: {bootstrap} ready after {attempt} attempt(s), {len(topics)} topic(s)")
            return 0
        await asyncio.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
    print(
        f"wait_kafka: {bootstrap} not ready after {deadline_s:.0f}s ({attempt} attempts); "
        f"last error: {last_error!r}",
        file=sys.stderr,
    )
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument("--pid", type=int, default=None, help="fail fast if this process dies")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    # aiokafka logs every refused connection at ERROR level; that is expected while waiting.
    logging.basicConfig(level=logging.CRITICAL)
    return asyncio.run(wait(args.bootstrap, args.timeout, args.pid, args.quiet))


if __name__ == "__main__":
    sys.exit(main())
