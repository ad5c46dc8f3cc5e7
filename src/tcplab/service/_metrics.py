"""``/metrics`` in Prometheus' text format.

What the queue and the jobs look like is read **at scrape time** from a small aggregate of the
``jobs`` table that a trigger keeps (migration ``s0004``; one source of truth for any number
of API processes and workers, and a scrape's cost does not grow with the stored jobs): queue
depth per priority class,
jobs per state, running jobs, a histogram of finished jobs' durations by outcome, and trials
done per arm (a counter: ``rate(tcplab_trials_done_total[1m])`` is trials per second per arm).
API request latency is measured in this process (a histogram per route template, method and
status class). Every app has its own registry, so many apps may live in one process.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from tcplab.service._db import ServiceDB
from tcplab.service._models import JOB_STATES, PRIORITY_CLASSES

__all__ = ["DURATION_BUCKETS", "JobsCollector", "RequestTimer", "new_registry"]

#: upper bounds (seconds) of the job-duration histogram's buckets
DURATION_BUCKETS: tuple[float, ...] = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600)
_OUTCOMES = ("succeeded", "failed", "cancelled")


def _le(bound: float) -> str:
    return f"{bound:g}" if bound != float("inf") else "+Inf"


class JobsCollector(Collector):
    """Metrics from the jobs table's aggregate (migration ``s0004``), on every scrape.

    A trigger on ``jobs`` appends each job's change of contribution to
    ``tcplab_job_metric_deltas``; a scrape folds them into ``tcplab_job_metric_totals`` (when no
    other process is doing so: ``pg_try_advisory_xact_lock``) and reads totals plus the deltas
    left. Its work grows with the distinct (state, class), (outcome, bucket) and arm keys and
    with the job changes since the last scrape — not with the number of stored jobs. No cache:
    every scrape reads the committed state.
    """

    def __init__(self, db_of: Any) -> None:
        self._db_of = db_of  # a callable: the app's ServiceDB (it connects at startup)

    def collect(self) -> Iterator[Metric]:
        db: ServiceDB | None = self._db_of()
        if db is None:
            return
        with db.begin() as conn:
            if conn.exec_driver_sql(f"SELECT pg_try_advisory_xact_lock({_FOLD_LOCK})").scalar():
                conn.exec_driver_sql(_FOLD_SQL)
            rows = conn.exec_driver_sql(_READ_SQL).all()
        by_state, durations, trials = _split(rows)
        yield from _state_metrics(by_state)
        yield _duration_metric(durations)
        done = CounterMetricFamily(
            "tcplab_trials_done",
            "Trials done (written in finished shards) per arm, over every job",
            labels=["arm"],
        )
        for arm, n in trials:
            done.add_metric([str(arm)], float(n))
        yield done


_FOLD_LOCK = 0x7C9_3E7  # one process folds the deltas at a time; the others just read
_FOLD_SQL = """
WITH moved AS (
  DELETE FROM tcplab_job_metric_deltas RETURNING metric, key1, key2, n, total
)
INSERT INTO tcplab_job_metric_totals AS t (metric, key1, key2, n, total)
SELECT metric, key1, key2, sum(n), sum(total) FROM moved GROUP BY 1, 2, 3
ON CONFLICT (metric, key1, key2)
DO UPDATE SET n = t.n + excluded.n, total = t.total + excluded.total
"""
_READ_SQL = """
SELECT metric, key1, key2, sum(n), sum(total) FROM (
  SELECT metric, key1, key2, n, total FROM tcplab_job_metric_totals
  UNION ALL
  SELECT metric, key1, key2, n, total FROM tcplab_job_metric_deltas
) AS u
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
"""


def _split(rows: Sequence[Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """The aggregate's rows as the three metrics need them: (state, class, n); (outcome,
    count, seconds, cumulative bucket counts...); (arm, trials) for arms some job has."""
    by_state = [(k1, k2, int(n)) for m, k1, k2, n, _ in rows if m == "state" and n]
    index = {_le(b): i for i, b in enumerate(DURATION_BUCKETS)}
    per: dict[str, list[float]] = {}
    for m, k1, k2, n, total in rows:
        if m != "duration":
            continue
        acc = per.setdefault(k1, [0.0] * (len(DURATION_BUCKETS) + 2))
        acc[0] += int(n)
        acc[1] += float(total)
        i = index.get(k2, len(DURATION_BUCKETS))  # "+Inf": only the total count
        for j in range(i, len(DURATION_BUCKETS)):
            acc[2 + j] += int(n)
    durations = [(k, *acc) for k, acc in per.items()]
    trials = [(k1, int(n)) for m, k1, _, n, jobs in rows if m == "trials" and jobs > 0]
    return by_state, durations, trials


def _state_metrics(rows: Sequence[Any]) -> Iterator[Metric]:
    depth = dict.fromkeys(PRIORITY_CLASSES, 0)
    states = dict.fromkeys(JOB_STATES, 0)
    for state, klass, n in rows:
        states[state] = states.get(state, 0) + int(n)
        if state == "queued":
            depth[klass] = depth.get(klass, 0) + int(n)
    queue = GaugeMetricFamily(
        "tcplab_queue_depth", "Jobs waiting in the queue per priority class", labels=["priority"]
    )
    for klass in PRIORITY_CLASSES:
        queue.add_metric([klass], float(depth[klass]))
    yield queue
    yield GaugeMetricFamily(
        "tcplab_jobs_running", "Jobs running on a worker now", value=float(states["running"])
    )
    per_state = GaugeMetricFamily("tcplab_jobs", "Jobs per state", labels=["state"])
    for state in JOB_STATES:
        per_state.add_metric([state], float(states[state]))
    yield per_state


def _duration_metric(rows: Sequence[Any]) -> Metric:
    family = HistogramMetricFamily(
        "tcplab_job_duration_seconds",
        "Finished jobs' time from start to end (last attempt), by outcome",
        labels=["outcome"],
    )
    by_state = {row[0]: row for row in rows}
    for outcome in _OUTCOMES:
        row = by_state.get(outcome)
        n, total, counts = (int(row[1]), float(row[2]), row[3:]) if row else (0, 0.0, ())
        buckets = [
            (_le(b), float(counts[i]) if counts else 0.0) for i, b in enumerate(DURATION_BUCKETS)
        ]
        buckets.append(("+Inf", float(n)))
        family.add_metric([outcome], buckets, sum_value=total)
    return family


def new_registry(db_of: Any) -> tuple[CollectorRegistry, Histogram]:
    """A registry with the jobs collector and the API latency histogram."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(JobsCollector(db_of))
    latency = Histogram(
        "tcplab_api_request_duration_seconds",
        "API request latency (until the response starts) by route, method and status class",
        ["route", "method", "status"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        registry=registry,
    )
    return registry, latency


class RequestTimer:
    """ASGI middleware: observe every HTTP request's latency under its route template
    (``/api/v1/jobs/{job_id}``, never the raw path: bounded label values)."""

    def __init__(self, app: Any, latency: Histogram, prefixes: tuple[str, ...] = ()) -> None:
        self.app, self.latency, self.prefixes = app, latency, prefixes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def timed_send(message: Any) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
                self._observe(scope, status["code"], time.perf_counter() - start)
            await send(message)

        await self.app(scope, receive, timed_send)

    def _observe(self, scope: Any, code: int, seconds: float) -> None:
        self.latency.labels(self._template(scope), scope["method"], f"{code // 100}xx").observe(
            seconds
        )

    def _template(self, scope: Any) -> str:
        route = scope.get("route")
        template = getattr(route, "path_format", None)
        if route is None or template is None:
            return "unmatched"
        path: str = scope["path"]
        for prefix in self.prefixes:  # routers included with a prefix match the path's rest
            if path.startswith(prefix) and route.path_regex.match(path[len(prefix) :]):
                return f"{prefix}{template}"
        return str(template)
