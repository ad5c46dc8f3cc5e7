"""LLM request metrics for Prometheus: ``tcplab_llm_requests_total`` and its latency histogram.

The LLM arm calls :func:`record_llm_request` once per HTTP attempt with the model, the outcome
(``ok``; ``rate_limited`` for a 429 answer; ``error`` for any other failed attempt) and the
attempt's service time. prometheus-client is optional here (it comes with ``tcplab[service]``):
without it nothing is counted and nothing fails. The two metric objects are not registered
anywhere by themselves; an exporter adds them with :func:`llm_collectors` (the service's
``/metrics`` and the workers' exporter do). They count in the process that makes the requests.
"""

from __future__ import annotations

import threading
from typing import Any

__all__ = ["LLM_OUTCOMES", "llm_collectors", "record_llm_request"]

LLM_OUTCOMES = ("ok", "rate_limited", "error")
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)
_lock = threading.Lock()
_metrics: tuple[Any, Any] | None = None
_unavailable = False


def _ensure() -> tuple[Any, Any] | None:
    global _metrics, _unavailable
    if _metrics is not None or _unavailable:
        return _metrics
    with _lock:
        if _metrics is None and not _unavailable:
            try:
                from prometheus_client import Counter, Histogram
            except ImportError:
                _unavailable = True
                return None
            requests = Counter(
                "tcplab_llm_requests",
                "LLM HTTP attempts by model and outcome (ok, rate_limited = 429, error)",
                ["model", "outcome"],
                registry=None,
            )
            latency = Histogram(
                "tcplab_llm_request_duration_seconds",
                "LLM HTTP attempts' service time by model and outcome",
                ["model", "outcome"],
                buckets=_LATENCY_BUCKETS,
                registry=None,
            )
            _metrics = (requests, latency)
    return _metrics


def record_llm_request(model: str, outcome: str, seconds: float) -> None:
    """Count one LLM HTTP attempt (a no-op without prometheus-client)."""
    metrics = _ensure()
    if metrics is None:
        return
    requests, latency = metrics
    requests.labels(model, outcome).inc()
    latency.labels(model, outcome).observe(max(0.0, seconds))


def llm_collectors() -> list[Any]:
    """The two collectors, to register on an exporter's registry (empty without the client)."""
    metrics = _ensure()
    return list(metrics) if metrics else []
