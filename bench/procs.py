"""Processes for the benchmarks: start service processes, and read a process's own CPU time and memory
from /proc (CPU time, unlike wall time, holds up on a machine busy with other work)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from safetynet_core.testing import free_port

REPO_ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (the first is the state)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int, reaped_children: bool = False) -> float:
    """User + system CPU of the process (all its threads); with `reaped_children`, also of its children
    that have exited and been waited for (a Postgres backend's CPU lands on the postmaster this way)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])
    if reaped_children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / CLOCK_TICKS


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MiB of the process."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int(_stat(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
    return found


@dataclass(frozen=True)
class Tracked:
    """A process whose CPU is measured; a `tree` also counts its children, live and exited."""

    name: str
    pid: int
    tree: bool = False

    def cpu(self) -> float:
        total = cpu_seconds(self.pid, reaped_children=self.tree)
        if self.tree:
            for child in children(self.pid):
                with contextlib.suppress(OSError):
                    total += cpu_seconds(child)
        return total


class CpuMeter:
    """CPU seconds each tracked process used between `start()` and `stop()` (a process that has exited
    keeps the last value read)."""

    def __init__(self, tracked: list[Tracked]) -> None:
        self.tracked = tracked
        self._last: dict[str, float] = {}
        self._start: dict[str, float] = {}

    def _read(self) -> dict[str, float]:
        for process in self.tracked:
            with contextlib.suppress(OSError):
                self._last[process.name] = process.cpu()
        return dict(self._last)

    def start(self) -> None:
        self._start = self._read()

    def stop(self) -> dict[str, float]:
        now = self._read()
        return {name: now.get(name, 0.0) - self._start.get(name, 0.0) for name in now}


def infra_processes(local_dir: Path) -> list[Tracked]:
    """Postgres (the postmaster and its backends), Kafka and Temporal of the local stack in `local_dir`, as
    far as their pid files show them (none for external infrastructure)."""
    found = []
    for name, pid_file, tree in (
        ("postgres", local_dir / "pg" / "data" / "postmaster.pid", True),
        ("kafka", local_dir / "kafka" / "kafka.pid", False),
        ("temporal", local_dir / "temporal" / "temporal.pid", False),
    ):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
            cpu_seconds(pid)  # alive and readable
            found.append(Tracked(name, pid, tree))
    return found


def local_dir() -> Path:
    """The state dir of the stack the benchmarks run against (SAFETYNET_LOCAL_DIR, default .local)."""
    return Path(os.environ.get("SAFETYNET_LOCAL_DIR", str(REPO_ROOT / ".local")))


async def wait_ready(url: str, path: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as client:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + path)).status_code < 500:
                    return
            await asyncio.sleep(0.2)
    raise TimeoutError(f"{url}{path} did not answer")


@dataclass(frozen=True)
class Running:
    pid: int
    url: str  # empty for a process without HTTP


@asynccontextmanager
async def process(argv: list[str], env: Mapping[str, str], stop_timeout: float = 15) -> AsyncIterator[int]:
    """A process with the given extra environment (its output appended to .local/logs/bench.log, where a
    process that dies at start says why); yields its pid, stops it (SIGTERM, then SIGKILL) on the way out."""
    log_dir = local_dir() / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "bench.log").open("ab") as log:
        started = await asyncio.create_subprocess_exec(
            *argv, env={**os.environ, **env}, cwd=str(REPO_ROOT), stdout=log, stderr=asyncio.subprocess.STDOUT
        )
    try:
        yield started.pid
    finally:
        if started.returncode is None:
            started.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(started.wait(), stop_timeout)
        if started.returncode is None:
            started.kill()
            await started.wait()


@asynccontextmanager
async def uvicorn(target: str, env: Mapping[str, str], ready_path: str = "/healthz") -> AsyncIterator[Running]:
    """A uvicorn process serving `target` (an app factory) on a free port."""
    port = free_port()
    argv = [str(Path(sys.executable).with_name("uvicorn")), "--factory", target, "--host", "127.0.0.1",
            "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    async with process(argv, env) as pid:
        url = f"http://127.0.0.1:{port}"
        await wait_ready(url, ready_path)
        yield Running(pid, url)


@asynccontextmanager
async def replicas(target: str, env: Mapping[str, str], count: int) -> AsyncIterator[list[Running]]:
    """`count` processes serving `target` on one shared port (SO_REUSEPORT, as `make up REPLICAS=N` runs
    them); each Running carries the shared URL."""
    shared = free_port()
    async with contextlib.AsyncExitStack() as stack:
        running = []
        for _ in range(count):
            own = free_port()
            argv = [sys.executable, "-m", "safetynet_core.replica", target, "--shared-port", str(shared),
                    "--port", str(own)]  # fmt: skip
            pid = await stack.enter_async_context(process(argv, env))
            await wait_ready(f"http://127.0.0.1:{own}", "/healthz")
            running.append(Running(pid, f"http://127.0.0.1:{shared}"))
        yield running


@asynccontextmanager
async def python_module(module: str, env: Mapping[str, str], *args: str) -> AsyncIterator[int]:
    """`python -m module [args]` (a standalone consumer, relay or worker), yielded once it is past its imports
    (see `past_imports`), so a stage metered from then on is charged its work, not its start-up, as a uvicorn
    process is metered only once it answers its health check."""
    async with process([sys.executable, "-m", module, *args], env) as pid:
        await past_imports(pid)
        yield pid


async def past_imports(pid: int, timeout: float = 90) -> None:
    """Until the process holds a socket. Its imports (2-3 CPU seconds for a service) open none; the first
    comes with its event loop (asyncio's self-pipe), just before it connects anywhere."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _holds_socket(pid):
            return
        await asyncio.sleep(0.005)
    raise TimeoutError(f"process {pid} opened no socket within {timeout} s (see .local/logs/bench.log)")


def _holds_socket(pid: int) -> bool:
    """Whether the process has a socket open (/proc reads, which do not block); raises when it has ended."""
    with contextlib.suppress(OSError):
        if any(os.readlink(fd).startswith("socket:") for fd in Path(f"/proc/{pid}/fd").iterdir()):
            return True
    try:
        ended = _stat(pid)[0] == "Z"
    except OSError:  # reaped already
        ended = True
    if ended:
        raise RuntimeError(f"process {pid} ended at start (see .local/logs/bench.log)")
    return False
