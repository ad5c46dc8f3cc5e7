"""A worker's own ``/metrics`` (prometheus-client's HTTP server on a small port).

Off unless ``TCPLAB_SERVICE_WORKER_METRICS_PORT`` (or ``tcplab worker --metrics-port``) is set;
``0`` picks a free port (written to the log). It serves the host (``tcplab_host_*``, the
sampler's sources), this worker's jobs (``tcplab_worker_jobs_running``,
``tcplab_worker_concurrency``) and the LLM requests made in this process
(``tcplab_llm_requests_total``). No token: it listens on ``WORKER_METRICS_HOST`` (loopback by
default); expose it only to the Prometheus that scrapes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from tcplab.service._settings import ServiceSettings

__all__ = ["WorkerExporter", "start_worker_exporter"]

log = logging.getLogger("tcplab.service")


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
    server, thread = start_http_server(
        settings.worker_metrics_port, addr=settings.worker_metrics_host, registry=registry
    )
    port = int(server.server_port)
    log.info(
        "worker %s: metrics on http://%s:%d/metrics", rt.name, settings.worker_metrics_host, port
    )
    return WorkerExporter(port, server, thread, host)
