"""Stratified sampling of recently closed cases for inspection (DESIGN.md §2 step 5).

Per county pick some townships, per township some villages, per village some households; counts come
from the policy ranges, and a seeded generator makes the draw reproducible."""

from __future__ import annotations

import random
from collections import defaultdict

from safetynet_core.policy.workflow import REGION_PREFIX_LENGTH, InspectionSampling, RegionLevel
from safetynet_workflow.inspection.models import SampledCase


def _pick(rng: random.Random, items: list[str], bounds: tuple[int, int]) -> list[str]:
    count = min(rng.randint(*bounds), len(items))
    return sorted(rng.sample(sorted(items), count))


def stratified_sample(closed: list[SampledCase], rules: InspectionSampling, seed: int) -> list[SampledCase]:
    """Counties → townships → villages → cases; the same input and seed always give the same sample."""
    county_len, township_len = (
        REGION_PREFIX_LENGTH[RegionLevel.COUNTY],
        REGION_PREFIX_LENGTH[RegionLevel.TOWNSHIP],
    )
    tree: dict[str, dict[str, dict[str, list[SampledCase]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list))
    )
    for case in closed:
        code = case.region_code
        tree[code[:county_len]][code[:township_len]][code].append(case)
    rng = random.Random(seed)  # noqa: S311 (a reproducible draw, not a secret)
    chosen: list[SampledCase] = []
    for county in sorted(tree):
        townships = tree[county]
        for township in _pick(rng, list(townships), rules.townships_per_county):
            villages = townships[township]
            for village in _pick(rng, list(villages), rules.villages_per_township):
                by_id = {c.case_id: c for c in villages[village]}
                chosen.extend(by_id[i] for i in _pick(rng, list(by_id), rules.households_per_village))
    return chosen
