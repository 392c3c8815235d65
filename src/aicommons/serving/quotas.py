"""Per-org rate quotas on an endpoint: a token bucket per (endpoint, calling org).

The bucket holds ten seconds' worth of the per-minute rate (at least one request), so a caller
may burst briefly but not spend a whole minute's quota in a moment. Buckets live in the serving
process: with one API process per platform that is exact; several would each allow the rate.
"""

from __future__ import annotations

import threading
import time

from aicommons.core.errors import RateLimited

BURST_SECONDS = 10.0


class RateLimiter:
    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}  # key -> (tokens, last refill)

    def take(self, endpoint: str, org_id: str, per_minute: int, cost: float = 1.0) -> None:
        """Spend `cost` requests of the org's quota on this endpoint, or raise RateLimited."""
        rate = per_minute / 60.0
        capacity = max(1.0, rate * BURST_SECONDS)
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get((endpoint, org_id), (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens < cost:
                self._buckets[(endpoint, org_id)] = (tokens, now)
                wait = (cost - tokens) / rate
                raise RateLimited(
                    f"Your organisation is over its quota of {per_minute} requests a minute on endpoint {endpoint!r}; retry in {wait:.1f} s.",
                    retry_after=wait,
                )
            self._buckets[(endpoint, org_id)] = (tokens - cost, now)
