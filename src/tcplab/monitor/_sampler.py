"""The background sampler: a daemon thread that samples every source at a fixed interval.

Each tick yields one :class:`Snapshot` per available source; snapshots are handed to a
``sink`` (e.g. the Parquet writer) every ``flush_every`` seconds and when the sampler stops.
A source that fails while sampling is dropped and recorded as unavailable with the error.
The sampler also measures itself: ``sampler_cpu_seconds_total`` is its thread's CPU time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence

from tcplab.errors import UsageError
from tcplab.monitor._model import Point, Snapshot, SourceStatus
from tcplab.monitor._sources import Sampler, SourceUnavailable

__all__ = ["MIN_INTERVAL", "BackgroundSampler", "check_interval"]

log = logging.getLogger("tcplab")
MIN_INTERVAL = 0.1
MAX_INTERVAL = 3600.0

Sink = Callable[[list[Snapshot]], None]


def check_interval(interval: float) -> float:
    """``interval`` in seconds, or :class:`UsageError` outside 0.1 s .. 1 h."""
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise UsageError(
            f"sample interval {interval:g} s is out of range: use {MIN_INTERVAL:g} s to "
            f"{MAX_INTERVAL:g} s, or 0 to turn sampling off"
        )
    return interval


class BackgroundSampler:
    """Samples ``sources`` every ``interval`` seconds in a daemon thread."""

    def __init__(
        self,
        sources: Sequence[Sampler],
        interval: float = 1.0,
        sink: Sink | None = None,
        flush_every: float = 10.0,
    ) -> None:
        self.interval = check_interval(interval)
        self.sink = sink
        self.flush_every = flush_every
        self.status: dict[str, SourceStatus] = {}
        self.active: list[Sampler] = []
        self.ticks = 0
        self.sink_errors: list[str] = []
        self._sources = list(sources)
        self._buffer: list[Snapshot] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._thread_cpu = 0.0

    def open_sources(self) -> None:
        """Open every source; the ones that cannot measure here are recorded as unavailable."""
        for s in self._sources:
            try:
                s.open()
            except SourceUnavailable as exc:
                self.status[s.name] = SourceStatus(source=s.name, available=False, reason=str(exc))
                continue
            self.status[s.name] = SourceStatus(source=s.name, available=True)
            self.active.append(s)

    def sample_once(self) -> list[Snapshot]:
        """One tick: a snapshot per working source (a source that fails is dropped)."""
        ts = time.time_ns()
        out: list[Snapshot] = []
        for s in list(self.active):
            try:
                points = s.sample()
            except Exception as exc:  # a sensor that vanished: record why, keep the others
                self.active.remove(s)
                why = f"failed while sampling: {type(exc).__name__}: {exc}"
                self.status[s.name] = SourceStatus(source=s.name, available=False, reason=why)
                log.warning("resource source %s %s", s.name, why)
                continue
            out.append(Snapshot(ts_ns=ts, source=s.name, points=points))
        self.ticks += 1
        return out

    def start(self) -> None:
        """Open the sources and start the thread."""
        self.open_sources()
        self._thread = threading.Thread(target=self._loop, name="tcplab-sampler", daemon=True)
        self._thread.start()

    def _self_snapshot(self) -> Snapshot:
        p = Point(name="sampler_cpu_seconds_total", value=self._thread_cpu)
        return Snapshot(ts_ns=time.time_ns(), source="sampler", points=[p])

    def _loop(self) -> None:
        next_t = time.monotonic()
        last_flush = next_t
        while not self._stop.is_set():
            snaps = self.sample_once()
            self._thread_cpu = time.thread_time()
            snaps.append(self._self_snapshot())
            with self._lock:
                self._buffer.extend(snaps)
            now = time.monotonic()
            if now - last_flush >= self.flush_every:
                self.flush()
                last_flush = now
            next_t += self.interval
            if next_t < now:  # fell behind (a suspended machine): skip, never burst
                next_t = now + self.interval
            self._stop.wait(next_t - now)

    def flush(self) -> None:
        """Hand the buffered snapshots to the sink (errors are kept, never raised)."""
        with self._lock:
            batch, self._buffer = self._buffer, []
        if not batch or self.sink is None:
            return
        try:
            self.sink(batch)
        except Exception as exc:  # e.g. a full disk: the run goes on without samples
            self.sink_errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def stop(self) -> None:
        """Stop the thread, flush what is left, close the sources (idempotent)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
            last = self.sample_once()  # a closing sample: the record covers the very end
            last.append(self._self_snapshot())
            with self._lock:
                self._buffer.extend(last)
        self.flush()
        for s in self.active:
            s.close()
        self.active = []

    @property
    def thread_cpu_seconds(self) -> float:
        """CPU time the sampling thread used so far."""
        return self._thread_cpu
