"""Every benchmark module imports: `make bench` and `make burst` are not in `make test`, so a moved module
(mypy ignores missing imports) would otherwise break them unseen."""

from __future__ import annotations

import importlib
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
