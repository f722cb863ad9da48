"""Every benchmark module imports: `make bench` and `make burst` are not in `make test`, so a moved module
(mypy ignores missing imports) would otherwise break them unseen."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import pytest

import bench

MODULES = sorted(info.name for info in pkgutil.iter_modules(bench.__path__))


@pytest.mark.parametrize("name", MODULES)
def test_the_benchmark_module_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert module.__name__ == f"bench.{name}"


def test_the_benchmarks_are_all_found() -> None:
    assert {"burst", "capacity", "run", "stages"} <= set(MODULES)


# Modules the stack (deploy/local/stack.sh), the benchmarks and the fault suite run as `python -m`: without a
# `__main__` block such a process exits at once, silently, and whoever waits for it waits forever.
STANDALONE = ("safetynet_intake.relay", "safetynet_risk.consumer", "safetynet_workflow.worker", "bench.stages")


@pytest.mark.parametrize("name", STANDALONE)
def test_every_standalone_module_runs_its_main(name: str) -> None:
    source = importlib.util.find_spec(name)
    assert source is not None and source.origin is not None
    with open(source.origin, encoding="utf-8") as module:
        assert 'if __name__ == "__main__":' in module.read(), f"python -m {name} would do nothing"
