"""Per-token rate limits: a token bucket per API token, its rate set per role.

A token of role R may make ``rate_R_per_s`` requests per second on average and
``rate_R_per_s × rate_burst_seconds`` in a burst (settings ``TCPLAB_SERVICE_RATE_VIEWER_PER_S``
… ``TCPLAB_SERVICE_RATE_BURST_SECONDS``; ``0`` = unlimited). Past it the request answers 429
with ``Retry-After`` (whole seconds until one request's worth is back) and
``tcplab_api_rate_limited_total{role}`` counts it. Buckets live in the API process: with
``tcplab serve --workers N`` each process has its own (the limit is then up to N times higher).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from tcplab.service._models import TokenRecord
from tcplab.service._settings import ServiceSettings

__all__ = ["MAX_BUCKETS", "RateLimiter"]

MAX_BUCKETS = 100_000  # idle buckets are dropped past this (a full bucket carries no state)


class RateLimiter:
    """Token buckets keyed by token id."""

    def __init__(self, settings: ServiceSettings, counter: Any = None) -> None:
        self.rates = {
            "viewer": settings.rate_viewer_per_s,
            "submitter": settings.rate_submitter_per_s,
            "admin": settings.rate_admin_per_s,
        }
        self.burst_s = settings.rate_burst_seconds
        self.counter = counter
        self._buckets: dict[str, tuple[float, float]] = {}  # token id → (level, at)
        self._lock = threading.Lock()

    def take(self, who: TokenRecord, now: float | None = None) -> float:
        """Take one request from ``who``'s bucket: 0.0 when allowed, else the seconds to
        wait."""
        rate = self.rates.get(who.role, 0.0)
        if rate <= 0:
            return 0.0
        capacity = max(1.0, rate * self.burst_s)
        t = time.monotonic() if now is None else now
        with self._lock:
            level, at = self._buckets.get(who.id, (capacity, t))
            level = min(capacity, level + (t - at) * rate)
            if level >= 1.0:
                self._buckets[who.id] = (level - 1.0, t)
                if len(self._buckets) > MAX_BUCKETS:
                    self._buckets.clear()
                return 0.0
            self._buckets[who.id] = (level, t)
        if self.counter is not None:
            self.counter.labels(who.role).inc()
        return (1.0 - level) / rate

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The ``Retry-After`` value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait_s)))
