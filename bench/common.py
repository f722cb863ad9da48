"""What benchmark modules return: ratio results and sections of figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class BenchResult:
    """One benchmark: the system's number, the same-run baseline's number, and their ratio."""

    name: str
    description: str
    metric: str
    value: float
    baseline: float
    ratio: float
    goal: str
    met: bool
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Section:
    """Figures that are not a ratio against a baseline (per-stage costs, scaling): written to latest.json
    under `name` and printed as a table of `rows` (the first row is the header)."""

    name: str
    title: str
    data: dict[str, Any]
    rows: list[list[str]]


# The start of every wrk script: a request counter and an id per wrk thread (`tid`), for unique event ids.
WRK_THREAD_IDS = r"""
local counter = 0
local next_id = 0
function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
end
"""

# The end of every wrk script: one RESULT line of JSON that bench.procs parses (requests, latency, errors).
WRK_RESULT = r"""function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('\nRESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,'
    .. '"socket_errors":%d,"bad_status":%d}\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, e.status))
end
"""
