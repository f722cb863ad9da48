"""What every benchmark module returns, and the table/JSON writer."""

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
