"""Host and process sources through psutil (and ``os.getloadavg``)."""

from __future__ import annotations

import os
import time
from typing import Any

from tcplab.monitor._model import Point
from tcplab.monitor._sources import (
    Sampler,
    SourceOptions,
    SourceUnavailable,
    psutil_module,
    register_source,
)

__all__ = [
    "CpuSource",
    "DiskSource",
    "FreqSource",
    "LoadSource",
    "MemorySource",
    "NetSource",
    "ProcessSource",
    "TempSource",
]


class _Psutil(Sampler):
    def __init__(self, options: SourceOptions) -> None:
        self.options = options
        self.ps: Any = None

    def open(self) -> None:
        self.ps = psutil_module()


class CpuSource(_Psutil):
    """Busy percentage per logical CPU and in total since the previous sample; context
    switches and interrupts (cumulative counters)."""

    name = "cpu"
    #: busy percentages over a shorter span than this are noise (psutil answers 0.0): omitted
    MIN_SPAN_S = 0.05

    def open(self) -> None:
        super().open()
        try:
            self.ps.cpu_percent(percpu=True)  # the first call only sets the reference point
        except (OSError, RuntimeError) as exc:
            raise SourceUnavailable(f"cannot read CPU times (/proc/stat): {exc}") from exc
        self.last = time.monotonic()

    def sample(self) -> list[Point]:
        stats = self.ps.cpu_stats()
        counters = [
            Point(name="context_switches_total", value=float(stats.ctx_switches)),
            Point(name="interrupts_total", value=float(stats.interrupts)),
        ]
        now = time.monotonic()
        if now - self.last < self.MIN_SPAN_S:  # e.g. the tick right after open(): no figure
            return counters
        self.last = now
        per = self.ps.cpu_percent(percpu=True)
        out = [
            Point(name="cpu_percent", value=v, labels={"cpu": str(i)}) for i, v in enumerate(per)
        ]
        out.append(Point(name="cpu_busy_percent", value=sum(per) / max(1, len(per))))
        return out + counters


class LoadSource(Sampler):
    """1, 5 and 15 minute load averages and the number of logical CPUs."""

    name = "load"

    def __init__(self, options: SourceOptions) -> None:
        self.ncpu = os.cpu_count() or 1

    def open(self) -> None:
        try:
            os.getloadavg()
        except OSError as exc:
            raise SourceUnavailable(f"os.getloadavg() failed: {exc}") from exc

    def sample(self) -> list[Point]:
        l1, l5, l15 = os.getloadavg()
        return [
            Point(name="load1", value=l1),
            Point(name="load5", value=l5),
            Point(name="load15", value=l15),
            Point(name="cpu_count", value=float(self.ncpu)),
        ]


class MemorySource(_Psutil):
    """Memory total/available/used and swap total/used/swapped-in bytes."""

    name = "memory"

    def sample(self) -> list[Point]:
        vm = self.ps.virtual_memory()
        sw = self.ps.swap_memory()
        return [
            Point(name="memory_total_bytes", value=float(vm.total)),
            Point(name="memory_available_bytes", value=float(vm.available)),
            Point(name="memory_used_bytes", value=float(vm.total - vm.available)),
            Point(name="swap_total_bytes", value=float(sw.total)),
            Point(name="swap_used_bytes", value=float(sw.used)),
            Point(name="swap_in_bytes_total", value=float(sw.sin)),
        ]


class DiskSource(_Psutil):
    """Disk I/O counters (all disks) and free/total bytes of the watched path's filesystem."""

    name = "disk"

    def sample(self) -> list[Point]:
        out: list[Point] = []
        io = self.ps.disk_io_counters()
        if io is not None:  # None in containers without /proc/diskstats entries
            out += [
                Point(name="disk_read_bytes_total", value=float(io.read_bytes)),
                Point(name="disk_write_bytes_total", value=float(io.write_bytes)),
            ]
        usage = self.ps.disk_usage(self.options.disk_path)
        lb = {"path": self.options.disk_path}
        out += [
            Point(name="disk_free_bytes", value=float(usage.free), labels=lb),
            Point(name="disk_total_bytes", value=float(usage.total), labels=lb),
        ]
        return out


class NetSource(_Psutil):
    """Network bytes sent/received (all interfaces, cumulative)."""

    name = "net"

    def open(self) -> None:
        super().open()
        if self.ps.net_io_counters() is None:
            raise SourceUnavailable("no network counters (/proc/net/dev unreadable)")

    def sample(self) -> list[Point]:
        n = self.ps.net_io_counters()
        return [
            Point(name="net_sent_bytes_total", value=float(n.bytes_sent)),
            Point(name="net_recv_bytes_total", value=float(n.bytes_recv)),
        ]


class ProcessSource(_Psutil):
    """Per followed process: CPU seconds (user+system), RSS, threads, open files."""

    name = "process"

    def __init__(self, options: SourceOptions) -> None:
        super().__init__(options)
        self.procs: dict[int, Any] = {}

    def _proc(self, pid: int) -> Any:
        p = self.procs.get(pid)
        if p is None:
            p = self.procs[pid] = self.ps.Process(pid)
        return p

    def sample(self) -> list[Point]:
        out: list[Point] = []
        for pid, role in self.options.pids():
            try:
                p = self._proc(pid)
                with p.oneshot():
                    t = p.cpu_times()
                    lb = {"pid": str(pid), "role": role}
                    out += [
                        Point(name="process_cpu_seconds_total", value=t.user + t.system, labels=lb),
                        Point(
                            name="process_rss_bytes", value=float(p.memory_info().rss), labels=lb
                        ),
                        Point(name="process_threads", value=float(p.num_threads()), labels=lb),
                        Point(name="process_open_fds", value=float(p.num_fds()), labels=lb),
                    ]
            except (self.ps.NoSuchProcess, self.ps.AccessDenied, self.ps.ZombieProcess):
                self.procs.pop(pid, None)  # gone (or not ours): no row, never a zero
        return out


class FreqSource(_Psutil):
    """Current CPU frequency (MHz) where the machine reports it."""

    name = "cpufreq"

    def open(self) -> None:
        super().open()
        try:
            freq = self.ps.cpu_freq()
        except (OSError, NotImplementedError) as exc:
            freq, why = None, str(exc)
        else:
            why = "psutil.cpu_freq() returned nothing (no /sys/devices/system/cpu/cpufreq)"
        if not freq or not freq.current:
            raise SourceUnavailable(why)

    def sample(self) -> list[Point]:
        return [Point(name="cpu_frequency_mhz", value=float(self.ps.cpu_freq().current))]


class TempSource(_Psutil):
    """Temperatures (°C) of every sensor psutil reports."""

    name = "temperature"

    def open(self) -> None:
        super().open()
        read = getattr(self.ps, "sensors_temperatures", None)
        if read is None:
            raise SourceUnavailable("psutil has no sensors_temperatures() on this platform")
        if not read():
            raise SourceUnavailable("no temperature sensors reported (/sys/class/hwmon is empty)")

    def sample(self) -> list[Point]:
        out = []
        for chip, entries in self.ps.sensors_temperatures().items():
            for i, e in enumerate(entries):
                lb = {"chip": chip, "sensor": e.label or str(i)}
                out.append(Point(name="temperature_celsius", value=float(e.current), labels=lb))
        return out


for _cls in (CpuSource, LoadSource, MemorySource, DiskSource, NetSource, ProcessSource):
    register_source(_cls.name, _cls)
register_source(FreqSource.name, FreqSource)
register_source(TempSource.name, TempSource)
