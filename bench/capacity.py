"""The capacity model behind docs/CAPACITY.md and the replica counts, partitions and HPA bounds of deploy/k8s.

Inputs (deploy/capacity.yaml): `measured` per-unit costs and footprints (from `make bench` and `make burst`;
`python -m bench.capacity --update` copies them in from bench/results/), `assumptions` about the load, and
the `tiers` (county, prefecture, province). Everything else is computed here:

    rate            units per second of each stage (normal: the year's volume in business hours times a peak
                    factor; burst: the flood's events drained within `burst_drain_hours`)
    cores(service)  = sum over its stages of rate x CPU seconds per unit (measured per process)
    replicas        = max(min_replicas, ceil(cores / target_utilisation))  (one core per Python process)
    partitions      = max(12, next multiple of 12 >= 2 x the largest consumer replica count in a burst)
    history shards  = next power of two >= max(open workflows / 1000, state transitions per s / (200 x 0.5)),
                      at least 128 (a shard serialises its updates: ~200 a second at ~5 ms a write)
    Postgres        = events a year x bytes per event (+ WAL bytes per event x rate / 8 KiB for write IOPS, x2
                      for the data pages written back)
    Kafka           = records a day x bytes per record x retention days x replication factor

`python -m bench.capacity` prints the tables of docs/CAPACITY.md (markdown)."""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
MODEL = REPO_ROOT / "deploy" / "capacity.yaml"
RESULTS = Path(__file__).parent / "results"
SERVICES = ("intake", "risk", "workflow", "workflow-worker", "notify")
CONSUMERS = ("risk", "workflow", "notify")  # share their topic's partitions
# Stage (as `make bench` names it) -> the deploy unit whose processes run it.
STAGE_SERVICE: dict[str, str | dict[str, str]] = {
    "intake single": "intake",
    "intake batch": "intake",
    "relay": "intake",
    "intake status": "intake",
    "risk": "risk",
    "reports": "workflow",
    "case opening": {"workflow api+consumer": "workflow", "workflow worker": "workflow-worker"},
    "task completion": {"workflow api+consumer": "workflow", "workflow worker": "workflow-worker"},
    "notify": "notify",
}
INFRA = ("postgres", "kafka", "temporal")


def load(path: Path = MODEL) -> dict[str, Any]:
    model: dict[str, Any] = yaml.safe_load(path.read_text())
    return model


@dataclass(frozen=True)
class Sizing:
    tier: str
    scenario: str  # normal | burst
    rates: dict[str, float]  # stage -> units per second
    cores: dict[str, float]  # service or infrastructure -> cores busy
    replicas: dict[str, int]
    partitions: int
    history_shards: int
    open_workflows: int
    transitions_per_second: float
    postgres_gib_per_year: float
    postgres_write_iops: float
    kafka_gib: float


def rates(model: dict[str, Any], tier: str, scenario: str) -> dict[str, float]:
    """Units per second reaching each stage."""
    a, t, m = model["assumptions"], model["tiers"][tier], model["measured"]
    households = t["households"]
    peak = a["peak_factor"] / (a["business_days_per_year"] * a["busy_hours_per_day"] * 3600)
    registry = households * a["registry_updates_per_household_year"] * peak
    tasks = households * a["monitored_share"] * a["tasks_per_monitored_household_year"] * peak
    if scenario == "normal":
        events = households * a["events_per_household_year"] * peak
        cases = households * a["new_case_share_per_year"] * peak
    else:
        drain = a["burst_drain_hours"] * 3600
        events = t["burst_events"] / drain
        cases = t["burst_events"] * a["burst_case_share"] / drain
    single = events * a["single_post_share"]
    household_events = events + registry
    assessments = household_events * m["assessments_per_household_event"][scenario]
    case_events = cases * m["case_events_per_case_opening"] + tasks * m["case_events_per_task"]
    return {
        "intake single": single,
        "intake batch": events - single + registry,
        "relay": household_events,
        "risk": household_events,
        "reports": household_events + assessments,
        "case opening": cases,
        "task completion": tasks,
        "notify": case_events,
        "intake status": assessments + case_events,
    }


def size(model: dict[str, Any], tier: str, scenario: str) -> Sizing:
    a, m, t = model["assumptions"], model["measured"], model["tiers"][tier]
    stage_rates = rates(model, tier, scenario)
    cores: dict[str, float] = dict.fromkeys([*SERVICES, *INFRA], 0.0)
    for stage, rate in stage_rates.items():
        costs = m["cpu_ms_per_unit"][stage]  # process -> CPU ms per unit
        owner = STAGE_SERVICE[stage]
        for process, ms in costs.items():
            target = owner if isinstance(owner, str) else owner[process]
            cores[target] += rate * ms / 1000
        for infra, ms in m["infra_cpu_ms_per_unit"][stage].items():
            cores[infra] += rate * ms / 1000
    replicas = {s: max(a["min_replicas"], math.ceil(cores[s] / a["target_utilisation"])) for s in SERVICES}
    partitions = max(12, 12 * math.ceil(2 * max(replicas[c] for c in CONSUMERS) / 12))
    open_workflows = int(t["households"] * a["monitored_share"])
    if scenario == "burst":
        open_workflows += int(t["burst_events"] * a["burst_case_share"])
    transitions = (
        stage_rates["case opening"] * m["temporal_history_events_per_case_opening"]
        + stage_rates["task completion"] * m["temporal_history_events_per_task"]
    )
    shards = max(128, 2 ** math.ceil(math.log2(max(1, open_workflows / 1000, transitions / (200 * 0.5)))))
    events_year = t["households"] * (a["events_per_household_year"] + a["registry_updates_per_household_year"])
    household_events_rate = stage_rates["relay"]
    retained_events = events_year / a["business_days_per_year"] * a["kafka_retention_days"]
    if scenario == "burst":
        retained_events += t["burst_events"]
    bytes_per_event = sum(
        n * m["kafka_bytes_per_record"][topic] for topic, n in m["kafka_records_per_household_event"].items()
    )
    kafka_bytes = retained_events * bytes_per_event * a["kafka_replication_factor"]
    return Sizing(
        tier=tier,
        scenario=scenario,
        rates=stage_rates,
        cores=cores,
        replicas=replicas,
        partitions=partitions,
        history_shards=shards,
        open_workflows=open_workflows,
        transitions_per_second=transitions,
        postgres_gib_per_year=events_year * m["postgres_bytes_per_event"] / 2**30,
        postgres_write_iops=2 * household_events_rate * m["wal_bytes_per_event"] / 8192,
        kafka_gib=kafka_bytes / 2**30,
    )


@dataclass(frozen=True)
class Plan:
    """What deploy/k8s runs of one service: replicas for the deployed tier's normal load, HPA bounds up to its
    burst (with headroom, within the partitions for consumers)."""

    replicas: int
    hpa_max: int


def deployment(model: dict[str, Any]) -> tuple[dict[str, Plan], int]:
    """Per service its Plan, and the partition count, for `deployed_tier`."""
    tier = model["deployed_tier"]
    normal, burst = size(model, tier, "normal"), size(model, tier, "burst")
    headroom = model["assumptions"]["burst_headroom"]
    plans = {}
    for service in SERVICES:
        most = max(burst.replicas[service], normal.replicas[service]) * headroom
        plans[service] = Plan(normal.replicas[service], min(most, burst.partitions) if service in CONSUMERS else most)
    return plans, burst.partitions


# ----------------------------------------------------------------------------------------- the tables
def markdown(model: dict[str, Any]) -> str:
    sizings = [size(model, tier, scenario) for tier in model["tiers"] for scenario in ("normal", "burst")]
    head = ["tier", "load", "events/s", "cases/s", *[f"{s} replicas" for s in SERVICES], "partitions",
            "history shards", "Temporal cores", "Postgres cores", "Postgres GiB/yr", "write IOPS",
            "Kafka GiB"]  # fmt: skip
    rows = [head, ["---"] * len(head)]
    for s in sizings:
        rows.append([
            s.tier, s.scenario, f"{s.rates['relay']:,.1f}", f"{s.rates['case opening']:,.2f}",
            *[str(s.replicas[svc]) for svc in SERVICES], str(s.partitions), str(s.history_shards),
            f"{s.cores['temporal']:.1f}", f"{s.cores['postgres']:.1f}", f"{s.postgres_gib_per_year:,.0f}",
            f"{s.postgres_write_iops:,.0f}", f"{s.kafka_gib:,.1f}",
        ])  # fmt: skip
    cores_head = ["tier", "load", *SERVICES, *INFRA]
    cores_rows = [cores_head, ["---"] * len(cores_head)]
    for s in sizings:
        cores_rows.append([s.tier, s.scenario, *[f"{s.cores[k]:.3f}" for k in (*SERVICES, *INFRA)]])
    return f"{_table(rows)}\n\nCores busy (before the utilisation target):\n\n{_table(cores_rows)}"


def _table(rows: list[list[str]]) -> str:
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# ------------------------------------------------------------------------------------------ the update
def measured_from_results(latest: dict[str, Any], burst: dict[str, Any]) -> dict[str, Any]:
    """The `measured` block from a `make bench` latest.json and a `make burst` burst.json."""
    stages = latest["stage_costs"]
    cpu = {name: {p: stage["cpu_s_per_1000"][p] for p in stage["service_processes"]} for name, stage in stages.items()
           if isinstance(stage, dict)}  # fmt: skip
    infra = {name: {p: stage["cpu_s_per_1000"].get(p, 0.0) for p in INFRA} for name, stage in stages.items()
             if isinstance(stage, dict)}  # fmt: skip
    footprint = burst["footprint"]
    records = footprint["kafka_records_per_event"]
    household = records["safetynet.household-events.v1"] or 1
    return {
        "from": f"make bench {latest['at'][:10]} and make burst {burst['at'][:10]} on {latest.get('cpus')} cores",
        "cpu_ms_per_unit": cpu,
        "infra_cpu_ms_per_unit": infra,
        "postgres_bytes_per_event": footprint["postgres_bytes_per_event_total"],
        "wal_bytes_per_event": footprint["wal_bytes_per_event"],
        "kafka_bytes_per_record": footprint["kafka_bytes_per_record"],
        "kafka_records_per_household_event": {t: round(n / household, 4) for t, n in records.items()},
        "temporal_history_events_per_case_opening": footprint["temporal_history_events_per_opened_case"],
    }


def update(path: Path = MODEL) -> None:
    """Refresh `measured` from bench/results/ (keeps the hand-set measured figures the runs do not produce)."""
    model = load(path)
    latest = json.loads((RESULTS / "latest.json").read_text())
    burst = json.loads((RESULTS / "burst.json").read_text())
    model["measured"].update(measured_from_results(latest, burst))
    path.write_text(yaml.safe_dump(model, sort_keys=False, allow_unicode=True, width=120))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--update", action="store_true", help="refresh `measured` from bench/results first")
    args = parser.parse_args()
    if args.update:
        update()
    print(markdown(load()))


if __name__ == "__main__":
    main()
