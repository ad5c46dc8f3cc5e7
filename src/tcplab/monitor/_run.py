"""The sampler beside a run: started by the driver, samples into ``RUN_DIR/metrics/`` and the
SQL store's ``run_metrics`` table, and leaves a summary (and saturation warnings) in the record.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tcplab.monitor._files import MetricsWriter, read_metrics
from tcplab.monitor._model import Snapshot
from tcplab.monitor._sampler import BackgroundSampler, check_interval
from tcplab.monitor._sources import SourceOptions, make_sources

__all__ = ["RunMonitor", "sample_interval_default", "saturation_warnings", "trial_window"]

#: a sample is "saturated" when the CPUs are this busy and the load exceeds the cores by this
CPU_BUSY_PERCENT = 95.0
LOAD_PER_CORE = 1.5
MEMORY_AVAILABLE_FRACTION = 0.05
#: warn when at least this share of the run's samples is saturated
SATURATED_SHARE = 0.05


def sample_interval_default() -> float:
    """``TCPLAB_SAMPLE_INTERVAL`` (seconds; 0 turns sampling off), else 1 s."""
    raw = os.environ.get("TCPLAB_SAMPLE_INTERVAL", "").strip()
    if not raw:
        return 1.0
    try:
        return float(raw)
    except ValueError:
        from tcplab.errors import UsageError

        raise UsageError(f"TCPLAB_SAMPLE_INTERVAL={raw!r}: not a number of seconds") from None


class RunMonitor:
    """Samples host and processes during one execution of a run."""

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        interval: float,
        worker_pids: Callable[[], Sequence[int]],
    ) -> None:
        self.run_id = run_id
        self.writer = MetricsWriter(run_dir / "metrics")
        self._worker_pids = worker_pids
        options = SourceOptions(pids=self._pids, disk_path=str(run_dir))
        self._store_pending: list[Snapshot] = []
        self._lock = threading.Lock()
        self.store_errors: list[str] = []
        self.sampler = BackgroundSampler(
            make_sources(None, options), check_interval(interval), sink=self._sink
        )

    def _pids(self) -> list[tuple[int, str]]:
        out = [(os.getpid(), "driver")]
        with contextlib.suppress(Exception):  # a pool changing under us: keep the driver
            out += [(p, "worker") for p in self._worker_pids()]
        return out

    def _sink(self, snaps: list[Snapshot]) -> None:
        with self._lock:
            self._store_pending.extend(snaps)
        self.writer(snaps)

    @classmethod
    def start(
        cls,
        run_dir: Path,
        run_id: str,
        interval: float,
        worker_pids: Callable[[], Sequence[int]],
    ) -> RunMonitor | None:
        """A started monitor, or None when ``interval`` is 0 (sampling off)."""
        if interval == 0:
            return None
        mon = cls(run_dir, run_id, interval, worker_pids)
        mon.sampler.start()
        mon.writer.write_sources(mon.sampler.status, interval)
        return mon

    def write_store(self, store: Any) -> None:
        """Write the samples flushed so far to the store (driver thread; errors are kept)."""
        with self._lock:
            batch, self._store_pending = self._store_pending, []
        if store is None or not batch:
            return
        points = []
        for s in batch:
            ts = datetime.fromtimestamp(s.ts_ns / 1e9, tz=UTC)
            for p in s.points:
                points.append((ts, p.name, p.value, {"source": s.source, **p.labels}))
        try:
            store.write_metrics(self.run_id, points)
        except Exception as exc:  # the store is optional during a run
            self.store_errors.append(f"metrics: {type(exc).__name__}: {exc}"[:300])

    def stop(self, record: Any, store: Any) -> None:
        """Stop sampling, write what is left, summarise into ``record.resources``."""
        self.sampler.stop()
        self.writer.write_sources(self.sampler.status, self.sampler.interval)
        self.write_store(store)
        table = read_metrics(self.writer.directory)
        summary = summarise(table)
        summary["interval_s"] = self.sampler.interval
        summary["sources"] = {k: v.describe() for k, v in self.sampler.status.items()}
        summary["samples"] = self.sampler.ticks
        summary["sink_errors"] = self.sampler.sink_errors + self.store_errors
        record.resources = summary
        for w in saturation_warnings(table, trial_window(self.writer.directory.parent)):
            record.add_warning(w)


def _series(table: pa.Table, name: str) -> pa.Table:
    return table.filter(pc.equal(table["name"], name))


def summarise(table: pa.Table) -> dict[str, Any]:
    """Mean host CPU, peak memory, per-process CPU seconds and peak RSS, sampler CPU."""
    out: dict[str, Any] = {}
    cpu = _series(table, "cpu_busy_percent")["value"]
    if len(cpu):
        out["host_cpu_percent_mean"] = pc.mean(cpu).as_py()
    mem = _series(table, "memory_used_bytes")["value"]
    if len(mem):
        out["host_memory_used_bytes_max"] = pc.max(mem).as_py()
    procs: dict[str, dict[str, Any]] = {}
    for name, key in (
        ("process_cpu_seconds_total", "cpu_seconds"),
        ("process_rss_bytes", "rss_bytes_max"),
    ):
        t = _series(table, name)
        for labels, v in zip(t["labels"].to_pylist(), t["value"].to_pylist(), strict=True):
            d = procs.setdefault(labels, {"first": {}, "last": {}, "max": {}})
            d["first"].setdefault(key, v)
            d["last"][key] = v
            d["max"][key] = max(v, d["max"].get(key, v))
    out["processes"] = [
        {
            **json.loads(labels),
            "cpu_seconds": d["last"].get("cpu_seconds", 0.0) - d["first"].get("cpu_seconds", 0.0),
            "rss_bytes_max": d["max"].get("rss_bytes_max"),
        }
        for labels, d in procs.items()
    ]
    own = _series(table, "sampler_cpu_seconds_total")
    if len(own) > 1:
        ts = own["ts_ns"].to_pylist()
        wall = (ts[-1] - ts[0]) / 1e9
        used = own["value"].to_pylist()[-1] - own["value"].to_pylist()[0]
        out["sampler_cpu_seconds"] = used
        out["sampler_core_share"] = used / wall if wall > 0 else None
    return out


#: NVML throttle reasons that slow a timed arm down (idle, app clocks, power cap are normal)
THROTTLE_ALERT_REASONS = ("hw_slowdown", "hw_thermal", "sw_thermal", "hw_power_brake")


def trial_window(run_dir: Path) -> tuple[int, int] | None:
    """First trial start and last trial end (ns) over the run's shard files, if any."""
    import pyarrow.parquet as pq

    lo: int | None = None
    hi: int | None = None
    for f in sorted((run_dir / "trials").glob("shard-*.parquet")):
        try:
            t = pq.read_table(f, columns=["started_at_ns", "finished_at_ns"])
        except Exception:  # a damaged shard: the run reports it, the window skips it
            continue
        a, b = pc.min(t["started_at_ns"]).as_py(), pc.max(t["finished_at_ns"]).as_py()
        if a is not None and b is not None:
            lo, hi = min(a, lo if lo is not None else a), max(b, hi if hi is not None else b)
    return (lo, hi) if lo is not None and hi is not None else None


def _throttle_warnings(table: pa.Table) -> list[str]:
    t = _series(table, "gpu_throttled")
    ticks = set(t["ts_ns"].to_pylist())
    hot: dict[str, set[int]] = {}
    for ts, labels, v in zip(
        t["ts_ns"].to_pylist(), t["labels"].to_pylist(), t["value"].to_pylist(), strict=True
    ):
        lb = json.loads(labels)
        if v > 0 and lb.get("reason") in THROTTLE_ALERT_REASONS:
            hot.setdefault(lb.get("gpu", "?"), set()).add(ts)
    return [
        f"GPU {gpu} was throttling ({', '.join(THROTTLE_ALERT_REASONS)}) during {len(seen)} "
        f"of {len(ticks)} resource samples: GPU latencies measured then are slowed down"
        for gpu, seen in sorted(hot.items())
        if ticks and len(seen) / len(ticks) >= SATURATED_SHARE
    ]


def saturation_warnings(table: pa.Table, window: tuple[int, int] | None = None) -> list[str]:
    """Warnings when the machine was saturated (CPU and run queue, memory) or a GPU throttled
    while sampled — within ``window`` (ns: the trials' span) when given."""
    if window is not None:
        ts_col = table["ts_ns"]
        table = table.filter(
            pc.and_(pc.greater_equal(ts_col, window[0]), pc.less_equal(ts_col, window[1]))
        )
    by_ts: dict[int, dict[str, float]] = {}
    for name in ("cpu_busy_percent", "load1", "cpu_count", "memory_available_bytes",
                 "memory_total_bytes"):  # fmt: skip
        t = _series(table, name)
        for ts, v in zip(t["ts_ns"].to_pylist(), t["value"].to_pylist(), strict=True):
            by_ts.setdefault(ts, {})[name] = v
    rows = [r for r in by_ts.values() if "cpu_busy_percent" in r]
    if not rows:
        return _throttle_warnings(table)
    cpu_sat = sum(
        1
        for r in rows
        if r["cpu_busy_percent"] >= CPU_BUSY_PERCENT
        and r.get("load1", 0.0) >= LOAD_PER_CORE * r.get("cpu_count", float("inf"))
    )
    mem_sat = sum(
        1
        for r in rows
        if "memory_available_bytes" in r
        and r["memory_available_bytes"] < MEMORY_AVAILABLE_FRACTION * r["memory_total_bytes"]
    )
    out = []
    n = len(rows)
    if cpu_sat / n >= SATURATED_SHARE:
        out.append(
            f"the machine's CPUs were saturated during {cpu_sat} of {n} resource samples "
            f"(≥ {CPU_BUSY_PERCENT:g}% busy with a load above {LOAD_PER_CORE:g}× the cores): "
            "latencies measured then include waiting for a CPU"
        )
    if mem_sat / n >= SATURATED_SHARE:
        out.append(
            f"memory was nearly exhausted (< {MEMORY_AVAILABLE_FRACTION:.0%} available) during "
            f"{mem_sat} of {n} resource samples: latencies may include paging"
        )
    return out + _throttle_warnings(table)
