"""The relay's per-row helpers give exactly what the library code they stand in for gives."""

from __future__ import annotations

import random

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from prometheus_client import CollectorRegistry, Histogram

from safetynet_core.kafka import murmur2, partition_for
from safetynet_core.metrics import observe_many


def test_murmur2_matches_the_kafka_client_hash_for_every_length() -> None:
    rng = random.Random(23)
    for length in range(0, 70):
        for _ in range(50):
            data = rng.randbytes(length)
            assert murmur2(data) == aiokafka_murmur2(data), data
    for key in (b"H610327101201001", "户610327".encode(), b"\xff" * 13):
        assert murmur2(key) == aiokafka_murmur2(key)


def test_murmur2_gives_the_java_clients_test_vectors() -> None:
    # Kafka's UtilsTest.testMurmur2, as signed 32-bit values.
    vectors = {
        "21": -973932308,
        "foobar": -790332482,
        "a-little-bit-long-string": -985981536,
        "a-little-bit-longer-string": -1486304829,
        "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
        "abc": 479470107,
    }
    for key, expected in vectors.items():
        assert murmur2(key.encode()) == expected & 0xFFFFFFFF
        assert partition_for(key.encode(), 12) == (expected & 0x7FFFFFFF) % 12


def _samples(histogram: Histogram) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for metric in histogram.collect()
        for sample in metric.samples
        if not sample.name.endswith("_created")
    }


def test_observe_many_counts_as_observing_one_by_one() -> None:
    buckets = (0.005, 0.01, 0.1, 1.0, 10.0)
    one_by_one = Histogram("one_by_one_seconds", "x", buckets=buckets, registry=CollectorRegistry())
    many = Histogram("one_by_one_seconds", "x", buckets=buckets, registry=CollectorRegistry())
    rng = random.Random(5)
    amounts = [0.0, 0.005, 0.01, 10.0, 11.0, *(rng.uniform(0, 12) for _ in range(300))]
    for amount in amounts:
        one_by_one.observe(amount)
    observe_many(many, iter(amounts))
    observe_many(many, [])
    assert _samples(many) == _samples(one_by_one)
    assert _samples(many)[("one_by_one_seconds_count", ())] == len(amounts)
