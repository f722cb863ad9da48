"""Runs every benchmark module against the running stack, prints tables, writes bench/results/latest.json.

A module contributes `async def run(stack: dict[str, str]) -> list[BenchResult | Section]`; pick some with
`python -m bench.run intake risk`. The stack is the one in `$SAFETYNET_LOCAL_DIR/stack.env` (default
.local/stack.env), so a second stack on other ports can be measured without touching the default one;
its Postgres, Kafka and Temporal addresses are exported for the modules' own settings."""

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
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.common import BenchResult, Section
from bench.procs import local_dir
from safetynet_core.testing import read_stack_env

MODULES = ["intake", "risk", "workflow", "stages"]
RESULTS = Path(__file__).parent / "results"
INFRA_KEYS = ("DATABASE_URL", "KAFKA_BOOTSTRAP", "TEMPORAL_ADDRESS")


def results_table(results: list[BenchResult]) -> Table:
    table = Table(title="SafetyNet benchmarks (ratios against same-run baselines)")
    for column in ("bench", "metric", "value", "baseline", "ratio", "goal", "met"):
        table.add_column(column)
    for r in results:
        table.add_row(r.name, r.metric, f"{r.value:.4g}", f"{r.baseline:.4g}", f"{r.ratio:.3f}", r.goal,
                      "yes" if r.met else "NO")  # fmt: skip
    return table


def section_table(section: Section) -> Table:
    table = Table(title=section.title)
    for column in section.rows[0]:
        table.add_column(column)
    for row in section.rows[1:]:
        table.add_row(*row)
    return table


async def main(selected: list[str]) -> int:
    stack = read_stack_env(local_dir() / "stack.env")
    for key in INFRA_KEYS:
        if key in stack:
            os.environ[key] = stack[key]
    # Services built here use the secrets `make up` generated (the ID-hash pepper, the token keys).
    for key, value in read_stack_env(local_dir() / "secrets.env").items():
        os.environ.setdefault(key, value)
    results: list[BenchResult] = []
    sections: list[Section] = []
    for name in selected:
        module = importlib.import_module(f"bench.{name}")
        print(f"bench {name}: starting", file=sys.stderr, flush=True)
        started = time.monotonic()
        for outcome in await module.run(stack):
            (sections if isinstance(outcome, Section) else results).append(outcome)
        print(f"bench {name}: done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    console = Console()
    console.print(results_table(results))
    for section in sections:
        console.print(section_table(section))
    RESULTS.mkdir(exist_ok=True)
    report: dict[str, Any] = {
        "at": datetime.now(UTC).isoformat(),
        "machine": platform.node(),
        "cpus": os.cpu_count(),
        "results": [r.as_dict() for r in results],
    }
    report.update({s.name: s.data for s in sections})
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    chosen = [a for a in sys.argv[1:] if a in MODULES] or MODULES
    raise SystemExit(asyncio.run(main(chosen)))
