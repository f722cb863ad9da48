"""`make chaos`: the full fault suite on an isolated stack; prints the table, exits 1 on any failure.

python -m tests.chaos.run --events 20000            # the full form (Kafka stopped for 30 s)
python -m tests.chaos.run --events 2000 --kafka-hold 10 --only kafka,postgres
python -m tests.chaos.run --replicas --events 2400   # REPLICAS=2, one replica of each service killed in turn

SAFETYNET_CHAOS_PORT_OFFSET=N shifts every port of the chaos stack (a second checkout's suite alongside).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from tests.chaos.harness import Result, run_suite, table
from tests.chaos.replicas import PROCESSES, replica_table, run_replica_suite


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="department events over all scenarios")
    parser.add_argument("--kafka-hold", type=float, default=30.0, help="seconds Kafka stays stopped")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds a killed process stays down")
    parser.add_argument("--load-seconds", type=float, default=40.0, help="how long each scenario's load lasts")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--only", default="", help="comma-separated scenario name fragments")
    parser.add_argument("--keep", action="store_true", help="leave the chaos stack running afterwards")
    parser.add_argument("--replicas", action="store_true", help="the replica-failover suite instead")
    args = parser.parse_args()
    only = [o.strip() for o in args.only.split(",") if o.strip()]
    results: Sequence[Result]
    if args.replicas:
        per_kill = -(-args.events // len(PROCESSES))
        replica_results = asyncio.run(run_replica_suite(per_kill, args.load_seconds, args.seed, args.keep, only))
        print(replica_table(replica_results))
        results = replica_results
    else:
        results = asyncio.run(
            run_suite(args.events, args.kafka_hold, args.hold, args.load_seconds, args.seed, only, args.keep)
        )
        print(table(results))
    failed = [r for r in results if not r.ok]
    for r in failed:
        print(f"FAILED: {r.scenario}: {'; '.join(r.notes) or 'see the table'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
