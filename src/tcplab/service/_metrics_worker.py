"""A worker's own ``/metrics`` (prometheus-client's HTTP server on a small port).

Off unless ``TCPLAB_SERVICE_WORKER_METRICS_PORT`` (or ``tcplab worker --metrics-port``) is set;
``0`` picks a free port (written to the log). It serves the host (``tcplab_host_*``, the
sampler's sources), this worker's jobs (``tcplab_worker_jobs_running``,
``tcplab_worker_concurrency``) and the LLM requests made in this process or in the
``local`` executor's pool processes it started (``tcplab_llm_requests_total``: the pool
processes hand their counts back with each shard), and the latency of the decisions in the
shards this worker's jobs finished (``tcplab_decision_latency_seconds{arm}``, from each
trial's ``latency_ns``; failed trials are not counted). No token: it listens on
``WORKER_METRICS_HOST`` (loopback by default); expose it only to the Prometheus that scrapes it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tcplab.service._settings import ServiceSettings

__all__ = ["DECISION_BUCKETS", "WorkerExporter", "observe_shard", "start_worker_exporter"]

log = logging.getLogger("tcplab.service")


#: upper bounds (seconds) of the decision-latency histogram: 10 µs (a registry lookup) to 60 s
DECISION_BUCKETS = (1e-5, 1e-4, 1e-3, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_decisions: list[Any] = []  # the histogram, made on first use (prometheus-client is optional)
_decisions_lock = threading.Lock()


def _decision_histogram() -> Any:
    with _decisions_lock:
        if not _decisions:
            try:
                from prometheus_client import Histogram
            except ImportError:
                _decisions.append(None)
            else:
                _decisions.append(
                    Histogram(
                        "tcplab_decision_latency_seconds",
                        "Latency of each decision (trial) in the shards finished here, by arm",
                        ["arm"],
                        buckets=DECISION_BUCKETS,
                        registry=None,
                    )
                )
        return _decisions[0]


def observe_shard(table: Any) -> None:
    """Add a finished shard's successful trials to ``tcplab_decision_latency_seconds``."""
    histogram = _decision_histogram()
    if histogram is None or table is None or table.num_rows == 0:
        return
    cols = table.select(["arm", "status", "latency_ns"]).to_pydict()
    for arm, status, ns in zip(cols["arm"], cols["status"], cols["latency_ns"], strict=True):
        if ns is not None and status == "OK":
            histogram.labels(arm).observe(ns / 1e9)


class _WorkerCollector:
    def __init__(self, rt: Any, concurrency: int) -> None:
        self.rt, self.concurrency = rt, concurrency

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        with self.rt.lock:
            running = len(self.rt.running)
        yield GaugeMetricFamily(
            "tcplab_worker_jobs_running", "Jobs this worker runs now", value=float(running)
        )
        yield GaugeMetricFamily(
            "tcplab_worker_concurrency",
            "Jobs this worker runs at most at once",
            value=float(self.concurrency),
        )


@dataclass
class WorkerExporter:
    """The running exporter: its port, and :meth:`close`."""

    port: int
    server: Any
    thread: Any
    host: Any

    def close(self) -> None:
        """Stop serving and release the host sources."""
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        self.host.close()


def start_worker_exporter(
    settings: ServiceSettings, rt: Any, concurrency: int = 1
) -> WorkerExporter | None:
    """Start the worker's exporter when a port is configured (None otherwise)."""
    if settings.worker_metrics_port is None:
        return None
    from prometheus_client import CollectorRegistry, start_http_server

    from tcplab.monitor import HostCollector, llm_collectors

    registry = CollectorRegistry(auto_describe=True)
    host = HostCollector(disk_path=settings.resolved_runs_dir().parent)
    registry.register(host)
    registry.register(_WorkerCollector(rt, concurrency))
    for collector in llm_collectors():
        registry.register(collector)
    histogram = _decision_histogram()
    if histogram is not None:
        registry.register(histogram)
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
    )
    port = int(server.server_port)
    log.info(
        "worker %s: metrics on http://%s:%d/metrics", rt.name, settings.worker_metrics_host, port
    )
    return WorkerExporter(port, server, thread, host)
