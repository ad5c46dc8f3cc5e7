"""Clocks, adaptive concurrency (AIMD) and request/token budgets (token buckets).

All waiting goes through a :class:`Clock`, so tests can inject one; the default is the
monotonic ``perf_counter_ns`` clock with ``asyncio.sleep``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

__all__ = ["AIMDLimiter", "AIMDPolicy", "Clock", "MonotonicClock", "TokenBucket"]


class Clock(Protocol):
    """Time source and sleeper used by the llm arm (injectable for tests)."""

    def now_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (0 or less: yield once)."""
        ...


class MonotonicClock:
    """The real clock: ``time.perf_counter_ns`` and ``asyncio.sleep``."""

    def now_ns(self) -> int:
        """Monotonic time in nanoseconds."""
        return time.perf_counter_ns()

    async def sleep(self, seconds: float) -> None:
        """Sleep on the event loop."""
        await asyncio.sleep(max(0.0, seconds))


@dataclass(frozen=True, slots=True)
class AIMDPolicy:
    """Adaptive-concurrency settings.

    Attributes:
        start: initial concurrency limit (default 4).
        minimum: lowest limit (default 1).
        maximum: highest limit (default 32).
        decrease: multiplicative factor applied on overload (default 0.5).
        grow_after: clean completions needed for +1 (default 8).
    """

    start: int = 4
    minimum: int = 1
    maximum: int = 32
    decrease: float = 0.5
    grow_after: int = 8

    def validated(self) -> AIMDPolicy:
        """Self, after checking the values are consistent.

        Raises:
            ValueError: an inconsistent setting.
        """
        if not 1 <= self.minimum <= self.start <= self.maximum:
            raise ValueError(
                f"concurrency needs 1 <= min ({self.minimum}) <= start ({self.start}) "
                f"<= max ({self.maximum})"
            )
        if not 0.0 < self.decrease < 1.0:
            raise ValueError(f"concurrency decrease must be in (0, 1), not {self.decrease}")
        if self.grow_after < 1:
            raise ValueError(f"grow_after must be >= 1, not {self.grow_after}")
        return self


class AIMDLimiter:
    """A concurrency limit that halves on overload and grows by one after clean completions.

    Overload signals from requests that were admitted before the last cut do not cut again
    (one cut per "round trip", as in TCP congestion control), so a burst of 429s answering
    one wave of requests halves the limit once, not once per request.

    Waiters are admitted first come, first served, and a release wakes only the waiters it
    makes room for (not every waiter), so thousands of queued calls cost nothing per release.
    """

    def __init__(self, policy: AIMDPolicy, limit: float | None = None) -> None:
        self.policy = policy.validated()
        self.limit: float = float(policy.start if limit is None else limit)
        self.in_flight = 0
        self.peak_in_flight = 0
        self.cuts = 0
        self.growths = 0
        self._clean = 0
        self._epoch = 0
        self._waiters: deque[asyncio.Future[int]] = deque()

    @property
    def current(self) -> int:
        """The integer limit in force."""
        return max(self.policy.minimum, int(self.limit))

    def _admit(self) -> int:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        return self._epoch

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.current:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self._admit())

    async def acquire(self) -> int:
        """Wait for a slot; returns the epoch to hand back to :meth:`release`."""
        if self.in_flight < self.current and not self._waiters:
            return self._admit()
        waiter: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # admitted, then cancelled
                self.in_flight -= 1
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            self._wake()
            raise

    async def release(self, epoch: int, *, overload: bool = False, clean: bool = False) -> None:
        """Give the slot back, reporting an overload signal or a clean completion."""
        self.in_flight -= 1
        if overload:
            if epoch == self._epoch:
                self.limit = max(float(self.policy.minimum), self.limit * self.policy.decrease)
                self._epoch += 1
                self.cuts += 1
            self._clean = 0
        elif clean:
            self._clean += 1
            if self._clean >= self.policy.grow_after and self.limit < self.policy.maximum:
                self.limit = min(float(self.policy.maximum), float(self.current + 1))
                self.growths += 1
                self._clean = 0
        self._wake()


class TokenBucket:
    """A token bucket of ``per_minute`` capacity refilled continuously at ``per_minute``/60 s.

    :meth:`take` waits until the amount is available (an amount above the capacity waits for a
    full bucket and leaves it in debt); :meth:`adjust` corrects an estimate after the fact
    (the level may go negative, delaying later takers).
    """

    def __init__(self, per_minute: float, clock: Clock) -> None:
        if per_minute <= 0:
            raise ValueError(f"a budget per minute must be positive, not {per_minute}")
        self.capacity = float(per_minute)
        self.rate_per_s = float(per_minute) / 60.0
        self.level = self.capacity
        self._clock = clock
        self._stamp = clock.now_ns()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock.now_ns()
        self.level = min(self.capacity, self.level + (now - self._stamp) / 1e9 * self.rate_per_s)
        self._stamp = now

    async def take(self, amount: float) -> None:
        """Wait until ``amount`` (capped at the capacity) is available, then take it (FIFO)."""
        need = min(float(amount), self.capacity)
        async with self._lock:
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= float(amount)
                    return
                await self._clock.sleep((need - self.level) / self.rate_per_s)

    def adjust(self, delta: float) -> None:
        """Take ``delta`` more (negative: give back), e.g. actual minus estimated tokens."""
        self._refill()
        self.level = min(self.capacity, self.level - delta)
