"""Samplers on this machine's real /proc, real child processes, real files (no mocks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from tcplab.errors import UsageError
from tcplab.monitor import (
    SOURCES,
    BackgroundSampler,
    MetricsWriter,
    Point,
    Sampler,
    Snapshot,
    SourceOptions,
    check_interval,
    make_sources,
    read_metrics,
    saturation_warnings,
    snapshots_table,
)


def _wait_for(cond: object, limit: float = 60.0) -> None:
    """Poll ``cond`` (a callable) until true; the limit only guards against a hang."""
    end = time.monotonic() + limit
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "condition never became true"
        time.sleep(0.02)


def test_every_source_is_measured_or_unavailable_with_a_reason() -> None:
    sampler = BackgroundSampler(make_sources(None, SourceOptions()), 1.0)
    sampler.open_sources()
    assert set(sampler.status) == set(SOURCES)
    for st in sampler.status.values():
        assert st.available or (st.reason and st.describe().startswith("unavailable: "))
    for name in ("cpu", "load", "memory", "process"):  # what Linux /proc always gives
        assert sampler.status[name].available, sampler.status[name]
    first = {s.source: s for s in sampler.sample_once()}  # right after open: too short a span
    assert "cpu_busy_percent" not in {p.name for p in first["cpu"].points}  # not a fake 0%
    time.sleep(0.2)
    snaps = {s.source: s for s in sampler.sample_once()}
    assert set(snaps) == {n for n, st in sampler.status.items() if st.available}
    cpu = snaps["cpu"].points
    per_cpu = [p for p in cpu if p.name == "cpu_percent"]
    assert len(per_cpu) == os.cpu_count()
    assert all(0.0 <= p.value <= 100.0 for p in per_cpu)
    names = {p.name for s in snaps.values() for p in s.points}
    want = {"load1", "memory_available_bytes", "swap_total_bytes", "context_switches_total"}
    assert want <= names
    sampler.stop()


def test_gpu_source_reports_devices_or_why_not() -> None:
    sampler = BackgroundSampler(make_sources(["gpu"], SourceOptions()), 1.0)
    sampler.open_sources()
    st = sampler.status["gpu"]
    snaps = sampler.sample_once()
    if st.available:  # a machine with an NVIDIA GPU and driver
        names = {p.name for s in snaps for p in s.points}
        assert {"gpu_utilization_percent", "gpu_temperature_celsius"} <= names
    else:  # never a zero that looks like a measurement
        assert st.reason
        assert snaps == []
    sampler.stop()


def test_process_source_follows_a_real_child_and_drops_it_when_gone() -> None:
    busy = "import time\nt=time.process_time()\nwhile time.process_time()-t<0.3: pass\n"
    busy += "import sys\nsys.stdout.write('x')\nsys.stdout.flush()\nsys.stdin.read()\n"
    child = subprocess.Popen(
        [sys.executable, "-c", busy], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert child.stdout is not None and child.stdout.read(1) == b"x"
        opts = SourceOptions(pids=lambda: [(child.pid, "worker")])
        sampler = BackgroundSampler(make_sources(["process"], opts), 1.0)
        sampler.open_sources()
        (snap,) = sampler.sample_once()
        vals = {p.name: p for p in snap.points}
        assert vals["process_cpu_seconds_total"].value >= 0.3
        assert vals["process_rss_bytes"].value > 1_000_000
        assert vals["process_threads"].value >= 1
        assert vals["process_open_fds"].value >= 3
        assert vals["process_rss_bytes"].labels == {"pid": str(child.pid), "role": "worker"}
    finally:
        child.communicate(b"")
    (snap,) = sampler.sample_once()
    assert snap.points == []  # gone: no row rather than a zero


class _Flaky(Sampler):
    name = "flaky"

    def __init__(self) -> None:
        self.calls = 0

    def sample(self) -> list[Point]:
        self.calls += 1
        if self.calls > 1:
            raise OSError("sensor vanished")
        return [Point(name="x", value=1.0)]


def test_a_source_failing_while_sampling_is_dropped_with_its_reason() -> None:
    sampler = BackgroundSampler([_Flaky(), *make_sources(["load"], SourceOptions())], 1.0)
    sampler.open_sources()
    assert {s.source for s in sampler.sample_once()} == {"flaky", "load"}
    assert {s.source for s in sampler.sample_once()} == {"load"}
    st = sampler.status["flaky"]
    assert not st.available and st.reason and "sensor vanished" in st.reason


def test_interval_bounds() -> None:
    assert check_interval(0.1) == 0.1
    for bad in (0.0, 0.05, -1.0, 7200.0):
        with pytest.raises(UsageError, match="out of range"):
            check_interval(bad)
    with pytest.raises(UsageError, match="unknown sources"):
        make_sources(["cpu", "fpga"], SourceOptions())


def test_thread_flushes_to_parquet_atomically(tmp_path: Path) -> None:
    writer = MetricsWriter(tmp_path / "metrics")
    sampler = BackgroundSampler(
        make_sources(["cpu", "memory"], SourceOptions()), 0.1, sink=writer, flush_every=0.2
    )
    sampler.start()
    _wait_for(lambda: writer.next_index >= 2)  # two periodic flushes happened while running
    sampler.stop()
    writer.write_sources(sampler.status, sampler.interval)
    files = sorted(p.name for p in (tmp_path / "metrics").iterdir())
    assert all(not f.startswith(".") for f in files)  # no temporary file left
    assert "sources.json" in files
    doc = json.loads((tmp_path / "metrics" / "sources.json").read_text())
    assert doc["interval_s"] == 0.1 and doc["sources"]["cpu"]["available"]
    table = read_metrics(tmp_path / "metrics")
    assert table.num_rows == writer.rows
    ticks = set(table.filter(pa.compute.equal(table["source"], "cpu"))["ts_ns"].to_pylist())
    assert len(ticks) == sampler.ticks >= 2
    own = table.filter(pa.compute.equal(table["name"], "sampler_cpu_seconds_total"))
    assert own.num_rows == sampler.ticks
    # a new writer on the same directory continues the numbering (resume)
    assert MetricsWriter(tmp_path / "metrics").next_index == writer.next_index


def test_a_failing_sink_is_recorded_not_raised() -> None:
    def sink(_: list[Snapshot]) -> None:
        raise OSError(28, "No space left on device")

    sampler = BackgroundSampler(make_sources(["load"], SourceOptions()), 0.1, sink=sink)
    sampler.start()
    _wait_for(lambda: sampler.ticks >= 2)
    sampler.stop()
    assert sampler.sink_errors and "No space left" in sampler.sink_errors[0]


def _snap(ts: int, cpu: float, load: float, avail: float) -> list[Snapshot]:
    return [
        Snapshot(ts_ns=ts, source="cpu", points=[Point(name="cpu_busy_percent", value=cpu)]),
        Snapshot(
            ts_ns=ts,
            source="load",
            points=[Point(name="load1", value=load), Point(name="cpu_count", value=2.0)],
        ),
        Snapshot(
            ts_ns=ts,
            source="memory",
            points=[
                Point(name="memory_available_bytes", value=avail),
                Point(name="memory_total_bytes", value=100.0),
            ],
        ),
    ]


def test_saturation_warnings() -> None:
    calm = [s for t in range(20) for s in _snap(t, 99.0, 2.0, 50.0)]  # busy, not overcommitted
    assert saturation_warnings(snapshots_table(calm)) == []
    hot = calm + [s for t in range(20, 22) for s in _snap(t, 99.0, 3.5, 2.0)]
    warnings = saturation_warnings(snapshots_table(hot))
    assert len(warnings) == 2
    assert "CPUs were saturated during 2 of 22" in warnings[0]
    assert "memory was nearly exhausted" in warnings[1]
    assert saturation_warnings(snapshots_table([])) == []
    assert saturation_warnings(snapshots_table(hot), window=(0, 19)) == []  # outside the trials


def test_gpu_throttling_warning() -> None:
    def tick(ts: int, thermal: float) -> Snapshot:
        pts = [
            Point(name="gpu_throttled", value=1.0, labels={"gpu": "0", "reason": "gpu_idle"}),
            Point(name="gpu_throttled", value=thermal, labels={"gpu": "0", "reason": "hw_thermal"}),
        ]
        return Snapshot(ts_ns=ts, source="gpu", points=pts)

    idle = [tick(t, 0.0) for t in range(20)]
    assert saturation_warnings(snapshots_table(idle)) == []  # an idle GPU is not throttling
    (w,) = saturation_warnings(snapshots_table([*idle, tick(20, 1.0), tick(21, 1.0)]))
    assert w.startswith("GPU 0 was throttling") and "during 2 of 22" in w
