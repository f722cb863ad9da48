"""Per-client request rate limits: an in-memory token bucket per key (one process; each replica limits
on its own). A check is a dict lookup and a little arithmetic: microseconds on the hot path."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from prometheus_client import Counter

from safetynet_core.errors import ApiError

RATE_LIMITED = Counter("safetynet_rate_limited_total", "Requests answered 429 by the per-client limiter", ["service"])


class TokenBucketLimiter:
    """`rate` tokens per second refill each key's bucket up to `burst`; a request takes one token."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._max_keys = max_keys
        # key -> [tokens, last refill time]; a list so the hot path mutates in place
        self._buckets: dict[str, list[float]] = {}

    def retry_after(self, key: str) -> float:
        """Take a token for `key`: 0.0 when allowed, else the seconds until one is available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_keys:
                self._buckets.clear()
            self._buckets[key] = [self.burst - 1, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1:
            bucket[0] = tokens - 1
            return 0.0
        bucket[0] = tokens
        return (1 - tokens) / self.rate

    def check(self, key: str, service: str) -> None:
        """429 with Retry-After (whole seconds, at least 1) when `key` has no token left."""
        wait = self.retry_after(key)
        if wait:
            RATE_LIMITED.labels(service).inc()
            raise ApiError(
                429,
                f"rate limit of {self.rate:g} requests/s (burst {self.burst:g}) exceeded; retry later",
                ["header", "Authorization"],
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
