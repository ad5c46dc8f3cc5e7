"""The Ray executor: one actor per worker, shard-level retries, counts and logs handed back.

Split from ``_executors`` (the ABC, the inline and local executors) to keep modules small.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

from tcplab.errors import MissingDependencyError, UsageError, WorkerLostError
from tcplab.experiment._executors import Executor, _unwrap, _worker_name
from tcplab.experiment._worker import (
    ShardResult,
    ShardTask,
    TrialWorker,
    WorkerContext,
    WorkerFailure,
)
from tcplab.monitor import (
    LLMCounts,
    LogRelay,
    merge_llm_counts,
    relay_child_logs,
    take_llm_counts,
)

__all__ = ["RayExecutor"]

log = logging.getLogger("tcplab.experiment")
_TCPLAB_LOG = logging.getLogger("tcplab")


class RayExecutor(Executor):
    """Ray actors (one per worker, each loads its analyzers once); shard-level retries.

    Connects to ``address`` when given (e.g. ``ray://head:10001`` or ``auto``), otherwise starts
    a new local Ray (``address="local"``: never a cluster found through ``RAY_ADDRESS`` or
    ``ray start``) with the dashboard off; at most one actor per CPU of the cluster (more would
    wait for a CPU held by the run's own actors). Worker errors come back as
    :class:`WorkerFailure` values (re-raised typed, not retried); only a lost actor is retried.

    As with the ``local`` pool, every reply of an actor carries the LLM attempts it counted
    since its last reply (added to this process's totals: a worker's ``/metrics``) and its log
    records (handled here, on the thread that waits for results).
    """

    kind = "ray"

    def __init__(self, workers: int = 2, address: str | None = None, max_retries: int = 2) -> None:
        super().__init__(workers)
        self.address = address
        self.max_retries = max_retries

    def _start(self, ctx: WorkerContext) -> None:
        try:
            import ray
        except ImportError as exc:
            raise MissingDependencyError.for_extra("ray", "ray", "the ray executor") from exc
        self._ray = ray
        self._started_ray = False
        self._queue: list[ShardTask] = []
        self._running: dict[Any, tuple[Any, ShardTask, int]] = {}
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    address="local",
                    num_cpus=self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
                self._started_ray = True
        actor_cls = ray.remote(num_cpus=1, max_restarts=self.max_retries)(_RayShardActor)
        levels = (logging.getLogger().getEffectiveLevel(), _TCPLAB_LOG.getEffectiveLevel())
        workers = _fit_ray_workers(ray, self.workers)
        self._actors: list[Any] = [actor_cls.remote(ctx, levels) for _ in range(workers)]
        self._free: list[Any] = list(self._actors)
        replies = ray.get([actor.init_error.remote() for actor in self._actors])
        for _failure, counts, records in replies:
            _take_back(counts, records)
        for failure, _counts, _records in replies:
            if failure is not None:
                raise failure.exception()

    def _dispatch(self) -> None:
        while self._free and self._queue:
            actor = self._free.pop()
            task = self._queue.pop(0)
            self._running[actor.run.remote(task)] = (actor, task, 0)

    def _submit(self, task: ShardTask) -> None:
        self._queue.append(task)
        self._dispatch()

    def _results(self) -> Iterator[ShardResult]:
        ray = self._ray
        while self._running or self._queue:
            self._dispatch()
            ready, _ = ray.wait(list(self._running), num_returns=1)
            ref = ready[0]
            actor, task, tries = self._running.pop(ref)
            try:
                value, counts, records = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                if tries >= self.max_retries:
                    raise WorkerLostError(
                        f"shard {task.shard} failed {tries + 1} times on Ray "
                        f"({type(exc).__name__}); finished shards are kept — resume with "
                        "`tcplab run --resume RUN_ID`"
                    ) from exc
                self._running[actor.run.remote(task)] = (actor, task, tries + 1)
                continue
            self._free.append(actor)
            _take_back(counts, records)
            yield _unwrap(value)

    def _cancel(self) -> None:
        if not hasattr(self, "_queue"):
            return
        self._queue.clear()
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()

    def _close(self) -> None:
        for actor in getattr(self, "_actors", []):
            self._ray.kill(actor)
        if getattr(self, "_started_ray", False):
            self._ray.shutdown()

    def arms_info(self) -> list[dict[str, Any]]:
        value = self._ray.get(self._actors[0].describe.remote())
        if isinstance(value, WorkerFailure):
            raise value.exception()
        return list(value)


def _fit_ray_workers(ray: Any, asked: int) -> int:
    """At most one actor (1 CPU each) per CPU of the cluster: more would never start."""
    cpus = int(ray.cluster_resources().get("CPU", 0))
    if cpus < 1:
        raise UsageError("the Ray cluster has no CPU: no actor of the run could start")
    if asked > cpus:
        log.warning("%d Ray workers asked; the cluster has %d CPUs: using %d", asked, cpus, cpus)
    return min(asked, cpus)


def _take_back(counts: LLMCounts | None, records: list[logging.LogRecord]) -> None:
    """What an actor's reply carries besides its value: its LLM counts and log records."""
    merge_llm_counts(counts)
    LogRelay.handle(records)


class _RecordBuffer:
    """An actor's log records since its last reply (``put`` by :func:`relay_child_logs`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[logging.LogRecord] = []

    def put(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock:
            records, self._records = self._records, []
        return records


_RayReply = tuple[Any, LLMCounts | None, list[logging.LogRecord]]


class _RayShardActor:
    def __init__(self, ctx: WorkerContext, levels: tuple[int, int]) -> None:
        self.logs = _RecordBuffer()
        relay_child_logs(self.logs, *levels)
        self.worker: TrialWorker | None = None
        self.failure: WorkerFailure | None = None
        try:
            self.worker = TrialWorker(ctx)
        except BaseException as exc:
            self.failure = WorkerFailure.capture(exc, _worker_name())
            log.warning("ray actor %s could not start its worker: %s", _worker_name(), exc)
            return
        log.info("ray actor %s: worker ready", _worker_name())

    def _reply(self, value: Any) -> _RayReply:
        return value, take_llm_counts(), self.logs.take()

    def init_error(self) -> _RayReply:
        return self._reply(self.failure)

    def run(self, task: ShardTask) -> _RayReply:
        if self.worker is None:
            assert self.failure is not None
            return self._reply(self.failure)
        try:
            value: ShardResult | WorkerFailure = self.worker.run(task)
        except BaseException as exc:
            value = WorkerFailure.capture(exc, self.worker.worker)
            log.warning("ray actor %s: shard %d failed: %s", _worker_name(), task.shard, exc)
        else:
            log.info("ray actor %s: shard %d done", _worker_name(), task.shard)
        return self._reply(value)

    def describe(self) -> list[dict[str, Any]] | WorkerFailure:
        if self.worker is None:
            assert self.failure is not None
            return self.failure
        return self.worker.describe_arms()
