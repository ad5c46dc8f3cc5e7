"""Is the client keeping up? Loop delay and client overhead, checked against the server.

The arm times each attempt on its event loop. When that loop is busy (too many calls, too
much work per call, or a GIL shared with other threads), an answer that has arrived waits
for the loop, and the recorded latency includes that wait: the server looks slower than it
is. Two signals catch it:

* **Loop delay.** While calls are in flight, a probe wakes every ``probe_interval_s`` and
  measures how late its timer fired (beyond the 1 ms resolution of the loop's timeouts:
  the process was not running) and how long a callback then waits for its turn on the loop
  (``asyncio.sleep(0)``: the loop was busy); a sample is the larger of the two. An answer
  that arrives waits about as long before it is timed. The client is *saturated* when the
  90th percentile of these delays exceeds ``loop_delay_fraction`` (5%) of the median
  service time.
* **Server-reported latency.** When the server reports its own latency for a call
  (``X-Server-Latency-Ns``), the client overhead of that call is its recorded service time
  minus the server's figure (connection set-up, the network, the server's HTTP front end
  before its clock starts, and the client). The recorded latency is *not faithful* when any
  call's overhead exceeds ``server_overhead_fraction`` (10%) of the server's latency.

:meth:`SaturationMonitor.drain` evaluates what was recorded since its last call and returns
the warning, if any; the arm's ``drain_warnings()`` hands it to the experiment worker.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "SaturationMonitor",
    "SaturationPolicy",
    "WindowStats",
    "client_saturated",
    "saturation_warning",
    "window_stats",
]

_KEEP = 20_000  # samples kept per window (the newest)
_TIMER_SLACK_NS = 1_000_000  # epoll timeouts are whole milliseconds, rounded up


@dataclass(frozen=True, slots=True)
class SaturationPolicy:
    """When the client counts as saturated (see the module docstring).

    Attributes:
        loop_delay_fraction: p90 loop delay over median service time that saturates (0.05).
        server_overhead_fraction: client overhead over server latency that saturates (0.10).
        min_calls: with fewer timed calls the loop delay says nothing (5).
        min_probes: with fewer loop-delay samples the loop delay says nothing (5).
        probe_interval_s: time between loop-delay probes while calls are in flight (5 ms).
    """

    loop_delay_fraction: float = 0.05
    server_overhead_fraction: float = 0.10
    min_calls: int = 5
    min_probes: int = 5
    probe_interval_s: float = 0.005


@dataclass(frozen=True, slots=True)
class WindowStats:
    """What one window (the time between two drains) recorded.

    Attributes:
        calls: successful attempts timed.
        service_median_ns: their median service time.
        probes: loop-delay samples.
        loop_delay_p90_ns: the 90th percentile of the loop delay.
        server_calls: calls whose server reported its latency.
        over_server: of those, calls whose overhead exceeded the policy's fraction.
        overhead_median_ns: median client overhead (service minus server latency).
        overhead_max_ratio: largest service / server latency.
    """

    calls: int
    service_median_ns: int | None
    probes: int
    loop_delay_p90_ns: int | None
    server_calls: int
    over_server: int
    overhead_median_ns: int | None
    overhead_max_ratio: float | None


def _p90(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def window_stats(
    service: list[int], server: list[tuple[int, int]], delays: list[int], policy: SaturationPolicy
) -> WindowStats:
    """Summarise one window: service times, (service, server) pairs and loop delays."""
    overheads = [s - v for s, v in server]
    return WindowStats(
        calls=len(service),
        service_median_ns=int(statistics.median(service)) if service else None,
        probes=len(delays),
        loop_delay_p90_ns=_p90(delays) if delays else None,
        server_calls=len(server),
        over_server=sum(s - v > policy.server_overhead_fraction * v for s, v in server),
        overhead_median_ns=int(statistics.median(overheads)) if overheads else None,
        overhead_max_ratio=max(s / v for s, v in server if v > 0) if server else None,
    )


def _ms(ns: int | None) -> str:
    return "n/a" if ns is None else f"{ns / 1e6:.2f} ms"


def client_saturated(stats: WindowStats, policy: SaturationPolicy) -> bool:
    """Whether the loop delay says the client could not keep up (enough samples needed)."""
    median, p90 = stats.service_median_ns, stats.loop_delay_p90_ns
    return (
        stats.calls >= policy.min_calls
        and stats.probes >= policy.min_probes
        and bool(median)
        and p90 is not None
        and p90 > policy.loop_delay_fraction * (median or 0)
    )


def saturation_warning(stats: WindowStats, policy: SaturationPolicy) -> str | None:
    """The warning for a window, or None when the client kept up (or too little was seen)."""
    saturated = client_saturated(stats, policy)
    unfaithful = stats.server_calls >= 1 and stats.over_server > 0
    if not saturated and not unfaithful:
        return None
    delay = (
        f"event-loop delay p90 {_ms(stats.loop_delay_p90_ns)} vs median service time "
        f"{_ms(stats.service_median_ns)} over {stats.calls} call(s)"
    )
    parts = []
    if saturated:
        parts.append(
            f"llm client saturated: {delay} (limit {policy.loop_delay_fraction:.0%}), so "
            "recorded latencies include client-side waiting and the server looks slower "
            "than it is; lower the concurrency or spread the calls over more processes"
        )
    if unfaithful:
        where = (
            "the client"
            if saturated
            else f"outside the client's event loop, which kept up ({delay})"
        )
        parts.append(
            f"llm latency above the server's own: {stats.over_server} of "
            f"{stats.server_calls} call(s) took more than {policy.server_overhead_fraction:.0%} "
            f"longer than the server reported (median overhead "
            f"{_ms(stats.overhead_median_ns)}, worst {stats.overhead_max_ratio or 0:.2f}x); "
            f"the extra time is {where}"
        )
    return ". ".join(parts)


class SaturationMonitor:
    """Records service times and loop delays on the arm's loop; drained from any thread.

    Call :meth:`started` before an attempt and :meth:`finished` after it (on the loop). The
    probe runs only while attempts are in flight, so an idle arm costs nothing (closing the
    arm's loop cancels it).
    """

    def __init__(self, policy: SaturationPolicy | None = None) -> None:
        self.policy = policy or SaturationPolicy()
        self.in_flight = 0
        self.warnings_raised = 0
        self.last: WindowStats | None = None
        self._probe: asyncio.Task[None] | None = None
        self._lock = threading.Lock()
        self._service: deque[int] = deque(maxlen=_KEEP)
        self._server: deque[tuple[int, int]] = deque(maxlen=_KEEP)
        self._delays: deque[int] = deque(maxlen=_KEEP)

    def started(self) -> None:
        """An attempt begins (starts the probe if it is not running)."""
        self.in_flight += 1
        if self._probe is None:
            self._probe = asyncio.get_running_loop().create_task(self._run_probe())

    def finished(self, service_ns: int | None = None, server_ns: int | None = None) -> None:
        """An attempt ended; a successful one gives its service time and the server's."""
        self.in_flight -= 1
        if self.in_flight == 0 and self._probe is not None:
            # stop at once: no wake-ups while other arms in this process are being timed
            self._probe.cancel()
            self._probe = None
        if service_ns is None:
            return
        with self._lock:
            self._service.append(service_ns)
            if server_ns is not None and server_ns > 0:
                self._server.append((service_ns, server_ns))

    async def _run_probe(self) -> None:
        interval = self.policy.probe_interval_s
        interval_ns = int(interval * 1e9)
        clock = time.perf_counter_ns
        me = asyncio.current_task()
        try:
            while self.in_flight > 0:
                due = clock() + interval_ns
                await asyncio.sleep(interval)
                woke = clock()
                late = woke - due - _TIMER_SLACK_NS  # the process was not running
                await asyncio.sleep(0)  # back of the ready queue: wait one loop turn
                turn = clock() - woke  # the loop was busy
                with self._lock:
                    self._delays.append(max(late, turn, 0))
        finally:
            if self._probe is me:
                self._probe = None

    def drain(self) -> list[str]:
        """The warning for everything recorded since the last drain (at most one)."""
        with self._lock:
            service, server, delays = list(self._service), list(self._server), list(self._delays)
            self._service.clear()
            self._server.clear()
            self._delays.clear()
        if not service and not delays:
            return []
        stats = window_stats(service, server, delays, self.policy)
        self.last = stats
        warning = saturation_warning(stats, self.policy)
        if warning is None:
            return []
        self.warnings_raised += 1
        return [warning]

    def describe(self) -> dict[str, Any]:
        """Policy, warnings raised so far and the last drained window."""
        return {
            "policy": asdict(self.policy),
            "warnings": self.warnings_raised,
            "last_window": asdict(self.last) if self.last else None,
        }
