"""Runs every benchmark module against the running stack, prints a table, writes bench/results/latest.json.

A module contributes `async def run(stack: dict[str, str]) -> list[BenchResult]`; pick some with
`python -m bench.run intake risk`."""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.common import BenchResult
from safetynet_core.settings import REPO_ROOT
from safetynet_core.testing import read_stack_env

MODULES = ["intake", "risk", "workflow"]
RESULTS = Path(__file__).parent / "results"
SECRETS = REPO_ROOT / ".local" / "secrets.env"


async def main(selected: list[str]) -> int:
    stack = read_stack_env()
    # Services built here use the secrets `make up` generated (the ID-hash pepper, the token keys).
    for key, value in read_stack_env(SECRETS).items():
        os.environ.setdefault(key, value)
    results: list[BenchResult] = []
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        started = time.monotonic()
        results.extend(await module.run(stack))
        print(f"bench {name}: done in {time.monotonic() - started:.0f} s", file=sys.stderr)
    table = Table(title="SafetyNet benchmarks (ratios against same-run baselines)")
    for column in ("bench", "metric", "value", "baseline", "ratio", "goal", "met"):
        table.add_column(column)
    for r in results:
        table.add_row(r.name, r.metric, f"{r.value:.4g}", f"{r.baseline:.4g}", f"{r.ratio:.3f}", r.goal,
                      "yes" if r.met else "NO")
    Console().print(table)
    RESULTS.mkdir(exist_ok=True)
    report = {"at": datetime.now(UTC).isoformat(), "machine": platform.node(),
              "results": [r.as_dict() for r in results]}
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    chosen = [a for a in sys.argv[1:] if a in MODULES] or MODULES
    raise SystemExit(asyncio.run(main(chosen)))
