"""Clock discipline: calibration of ``perf_counter_ns`` and calibrated micro-batches.

``micro`` timing is for sub-microsecond arms: a single call cannot be timed (the clock read
itself costs tens of ns), so calls are timed in batches long enough that the clock overhead is
negligible: each raw measurement lasts at least ``max(1 ms, 1000 × overhead)``. The garbage
collector is off while timing and warm-up batches are discarded. ``macro`` arms are timed one
call per sample by the analyzers themselves (see :class:`tcplab.analyzers.Timing`).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ClockCalibration", "MicroTimer", "calibrate_clock"]


@dataclass(frozen=True)
class ClockCalibration:
    """Measured properties of ``time.perf_counter_ns`` on this machine, now.

    Attributes:
        overhead_ns: median cost of one back-to-back pair of clock reads.
        resolution_ns: the clock's declared resolution.
        min_step_ns: the smallest non-zero difference observed between two reads.
        samples: number of pairs measured.
    """

    overhead_ns: float
    resolution_ns: float
    min_step_ns: int
    samples: int
    implementation: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @property
    def min_batch_ns(self) -> int:
        """``max(1 ms, 1000 × overhead)``."""
        return int(max(1_000_000, 1000 * self.overhead_ns))


def calibrate_clock(samples: int = 20_000) -> ClockCalibration:
    """Median of ``samples`` (≥ 10^4) back-to-back ``perf_counter_ns`` pairs, GC off."""
    clock = time.perf_counter_ns
    deltas = [0] * samples
    was = gc.isenabled()
    gc.disable()
    try:
        for i in range(samples):
            t0 = clock()
            deltas[i] = clock() - t0
    finally:
        if was:
            gc.enable()
    info = time.get_clock_info("perf_counter")
    nonzero = [d for d in deltas if d > 0]
    return ClockCalibration(
        overhead_ns=float(statistics.median(deltas)),
        resolution_ns=info.resolution * 1e9,
        min_step_ns=min(nonzero) if nonzero else 0,
        samples=samples,
        implementation=info.implementation,
    )


class MicroTimer:
    """Times ``fn(arg)`` in batches of a calibrated size.

    The batch size is found once (doubling until one batch lasts ``min_batch_ns``) and then
    kept, so every measurement of an arm uses the same batch size.
    """

    def __init__(
        self,
        fn: Callable[[str], object],
        calibration: ClockCalibration,
        min_batch_ns: int | None = None,
        max_batch: int = 1 << 24,
    ) -> None:
        self.fn = fn
        self.calibration = calibration
        self.min_batch_ns = max(min_batch_ns or 0, calibration.min_batch_ns)
        self.max_batch = max_batch
        self.batch_size = 0

    def _batch(self, arg: str, n: int) -> int:
        fn = self.fn
        clock = time.perf_counter_ns
        was = gc.isenabled()
        gc.disable()
        try:
            t0 = clock()
            for _ in range(n):
                fn(arg)
            return clock() - t0
        finally:
            if was:
                gc.enable()

    def calibrate(self, arg: str) -> int:
        """Find the batch size for ``arg`` (doubling) and return it."""
        n = 1
        while n < self.max_batch and self._batch(arg, n) < self.min_batch_ns:
            n *= 2
        self.batch_size = n
        return n

    def warmup(self, arg: str, batches: int) -> None:
        """Run and discard ``batches`` batches."""
        for _ in range(batches):
            self._batch(arg, self.batch_size or 1)

    def measure(self, arg: str) -> tuple[int, int]:
        """One measurement: ``(batch_ns, batch_size)``; per-decision = batch_ns / batch_size."""
        if not self.batch_size:
            self.calibrate(arg)
        return self._batch(arg, self.batch_size), self.batch_size
