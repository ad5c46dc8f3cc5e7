"""The sampler's host sources as Prometheus metrics: ``tcplab_host_<point name>``.

:class:`HostCollector` samples its sources at scrape time (no thread) and yields one family per
point name with the point's labels: a gauge, or a counter for names ending in ``_total``.
``tcplab_host_source_available{source, reason}`` says which sources measure here (1) and why
the others do not (0). A worker or the service registers it on its registry:
``registry.register(HostCollector())``. Needs ``prometheus-client`` (in ``tcplab[service]``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tcplab.monitor._sampler import BackgroundSampler
from tcplab.monitor._sources import SourceOptions, make_sources

__all__ = ["PREFIX", "HostCollector"]

PREFIX = "tcplab_host_"
DEFAULT_SOURCES = ("cpu", "load", "memory", "disk", "net", "cpufreq", "temperature", "gpu")


def _families() -> Any:
    try:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
    except ImportError as exc:
        from tcplab.errors import MissingDependencyError

        raise MissingDependencyError(
            "exporting host metrics needs prometheus-client: pip install 'tcplab[service]' "
            "(or pip install prometheus-client)"
        ) from exc
    return CounterMetricFamily, GaugeMetricFamily


class HostCollector:
    """A prometheus-client collector over the sampler's host sources."""

    def __init__(self, disk_path: Path | None = None, sources: Sequence[str] | None = None) -> None:
        self._families = _families()
        opts = SourceOptions(disk_path=str(disk_path) if disk_path else None)
        names = list(sources) if sources is not None else list(DEFAULT_SOURCES)
        self.sampler = BackgroundSampler(make_sources(names, opts), 1.0)
        self.sampler.open_sources()
        self._lock = threading.Lock()  # scrapes may overlap

    def collect(self) -> Iterator[Any]:
        counter_cls, gauge_cls = self._families
        with self._lock:
            snaps = self.sampler.sample_once()
            status = dict(self.sampler.status)
        families: dict[str, Any] = {}
        for snap in snaps:
            for p in snap.points:
                keys = sorted(p.labels)
                fam = families.get(p.name)
                if fam is None:
                    if p.name.endswith("_total"):
                        name = PREFIX + p.name[: -len("_total")]
                        fam = counter_cls(name, f"{p.name} ({snap.source})", labels=keys)
                    else:
                        fam = gauge_cls(PREFIX + p.name, f"{p.name} ({snap.source})", labels=keys)
                    families[p.name] = fam
                fam.add_metric([p.labels[k] for k in keys], p.value)
        yield from families.values()
        up = gauge_cls(
            PREFIX + "source_available",
            "1 when the source measures on this host; 0 with the reason when it cannot",
            labels=["source", "reason"],
        )
        for name, st in sorted(status.items()):
            up.add_metric([name, st.reason or ""], 1.0 if st.available else 0.0)
        yield up

    def close(self) -> None:
        """Release the sources (NVML)."""
        self.sampler.stop()
