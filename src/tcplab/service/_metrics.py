"""``/metrics`` in Prometheus' text format.

What the queue and the jobs look like is read from the ``jobs`` table **at scrape time** (one
source of truth for any number of API processes and workers): queue depth per priority class,
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
    """Metrics computed from the ``jobs`` table on every scrape."""

    def __init__(self, db_of: Any) -> None:
        self._db_of = db_of  # a callable: the app's ServiceDB (it connects at startup)

    def collect(self) -> Iterator[Metric]:
        db: ServiceDB | None = self._db_of()
        if db is None:
            return
        with db.begin() as conn:
            by_state = conn.exec_driver_sql(
                "SELECT state, priority_class, count(*) FROM jobs GROUP BY 1, 2"
            ).all()
            durations = conn.exec_driver_sql(_DURATIONS_SQL).all()
            trials = conn.exec_driver_sql(_TRIALS_SQL).all()
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


_DURATIONS_SQL = (
    "SELECT state, count(*), coalesce(sum(d), 0), "
    + ", ".join(f"count(*) FILTER (WHERE d <= {b:g})" for b in DURATION_BUCKETS)
    + """
FROM (
  SELECT state, greatest(0, extract(epoch FROM finished_at - started_at)) AS d
  FROM jobs
  WHERE state IN ('succeeded', 'failed', 'cancelled')
    AND started_at IS NOT NULL AND finished_at IS NOT NULL
) AS finished
GROUP BY state"""
)  # the buckets are counted by the database: one row per outcome, whatever the job count
_TRIALS_SQL = """
SELECT arm.key, sum((arm.value ->> 'done')::bigint)
FROM jobs, jsonb_each(jobs.progress -> 'arms') AS arm
WHERE jobs.progress IS NOT NULL
GROUP BY arm.key ORDER BY arm.key
"""


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
