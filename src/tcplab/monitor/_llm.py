"""LLM request metrics for Prometheus: ``tcplab_llm_requests_total`` and its latency histogram.

The LLM arm calls :func:`record_llm_request` once per HTTP attempt with the model, the outcome
(``ok``; ``rate_limited`` for a 429 answer; ``error`` for any other failed attempt) and the
attempt's service time. The counts are plain numbers kept in this process (no
prometheus-client needed to count); :func:`llm_collectors` gives the collector an exporter
registers (the service's ``/metrics`` and the workers' exporter do; empty without
prometheus-client).

Processes that do not export (the ``local`` executor's pool processes) hand their counts to the
process that does: :func:`take_llm_counts` returns what was counted since the last call (an
:class:`LLMCounts` record, picklable), and :func:`merge_llm_counts` adds such a record to this
process's totals. The executor returns a pool process's counts with every shard result.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator
from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "LLM_OUTCOMES",
    "LLMCounts",
    "llm_collectors",
    "merge_llm_counts",
    "record_llm_request",
    "take_llm_counts",
]

LLM_OUTCOMES = ("ok", "rate_limited", "error")
_LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120)


class LLMCountRow(BaseModel):
    """One ``(model, outcome)`` series: attempts, their summed service time, bucket counts."""

    model: str
    outcome: str
    count: int = 0
    seconds: float = 0.0
    buckets: list[int] = Field(default_factory=lambda: [0] * len(_LATENCY_BUCKETS))


class LLMCounts(BaseModel):
    """LLM attempts counted in one process since its last hand-over (schema version 1)."""

    schema_version: Literal[1] = 1
    rows: list[LLMCountRow] = Field(default_factory=list)


class _Table:
    """``(model, outcome)`` → row, under a lock."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], LLMCountRow] = {}

    def add(self, model: str, outcome: str, n: int, seconds: float, buckets: list[int]) -> None:
        row = self.rows.get((model, outcome))
        if row is None:
            row = self.rows[(model, outcome)] = LLMCountRow(model=model, outcome=outcome)
        row.count += n
        row.seconds += seconds
        row.buckets = [a + b for a, b in zip(row.buckets, buckets, strict=True)]


_lock = threading.Lock()
_totals = _Table()  # what this process exports
_unsent = _Table()  # counted here since the last take_llm_counts()


def _one(seconds: float) -> list[int]:
    """Cumulative bucket counts (``le`` semantics) of one observation."""
    first = bisect.bisect_left(_LATENCY_BUCKETS, seconds)
    return [0] * first + [1] * (len(_LATENCY_BUCKETS) - first)


def _go_float(bound: float) -> str:
    """A bucket bound as prometheus-client's own histograms write it (``0.05``, ``2.0``)."""
    return repr(float(bound))


def record_llm_request(model: str, outcome: str, seconds: float) -> None:
    """Count one LLM HTTP attempt."""
    seconds = max(0.0, seconds)
    buckets = _one(seconds)
    with _lock:
        _totals.add(model, outcome, 1, seconds, buckets)
        _unsent.add(model, outcome, 1, seconds, buckets)


def take_llm_counts() -> LLMCounts | None:
    """What was counted in this process since the last call (None when nothing was)."""
    with _lock:
        rows = list(_unsent.rows.values())
        _unsent.rows = {}
    return LLMCounts(rows=rows) if rows else None


def merge_llm_counts(counts: LLMCounts | None) -> None:
    """Add another process's counts to this process's totals (and to what it hands on)."""
    if counts is None:
        return
    with _lock:
        for r in counts.rows:
            for table in (_totals, _unsent):
                table.add(r.model, r.outcome, r.count, r.seconds, r.buckets)


class _LLMCollector:
    """prometheus-client collector over this process's totals."""

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        with _lock:
            rows = [r.model_copy(deep=True) for r in _totals.rows.values()]
        requests = CounterMetricFamily(
            "tcplab_llm_requests",
            "LLM HTTP attempts by model and outcome (ok, rate_limited = 429, error)",
            labels=["model", "outcome"],
        )
        latency = HistogramMetricFamily(
            "tcplab_llm_request_duration_seconds",
            "LLM HTTP attempts' service time by model and outcome",
            labels=["model", "outcome"],
        )
        for r in rows:
            requests.add_metric([r.model, r.outcome], float(r.count))
            pairs = zip(_LATENCY_BUCKETS, r.buckets, strict=True)
            buckets = [(_go_float(b), float(n)) for b, n in pairs]
            buckets.append(("+Inf", float(r.count)))
            latency.add_metric([r.model, r.outcome], buckets, sum_value=r.seconds)
        yield requests
        yield latency


_collector = _LLMCollector()


def llm_collectors() -> list[Any]:
    """The collector to register on an exporter's registry (empty without prometheus-client)."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError:
        return []
    return [_collector]
