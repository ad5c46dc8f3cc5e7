"""Executors: where shards run. One small ABC, three implementations.

Lifecycle: ``start(ctx)`` → ``submit(task)`` (any number) → ``results()`` (yields
:class:`ShardResult` as shards finish, in completion order) → ``close()``; ``cancel()`` drops
pending work. The state is explicit (``new``, ``started``, ``closed``, ``failed``); ``cancel``
and ``close`` are safe and idempotent in every state. Nothing here assumes one machine: tasks
and results are plain picklable values, and only the driver writes files.

Errors raised in a worker (while it starts or runs a shard) travel back as
:class:`WorkerFailure` values and are re-raised in the driver as the same typed error, never as
``BrokenProcessPool`` or a Ray traceback.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import multiprocessing
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from tcplab.errors import MissingDependencyError, UsageError, WorkerLostError
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

__all__ = [
    "EXECUTOR_KINDS",
    "Executor",
    "ExecutorState",
    "InlineExecutor",
    "LocalExecutor",
    "RayExecutor",
    "make_executor",
]

ExecutorState = Literal["new", "started", "closed", "failed"]
EXECUTOR_KINDS = ("inline", "local", "ray")
log = logging.getLogger("tcplab.experiment")
_TCPLAB_LOG = logging.getLogger("tcplab")


class Executor(abc.ABC):
    """Runs shards of trials. Subclasses implement the ``_``-prefixed hooks."""

    kind = "executor"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self.state: ExecutorState = "new"
        self._released = False

    def start(self, ctx: WorkerContext) -> None:
        """Start workers (each loads its analyzers once); a start error is re-raised typed."""
        if self.state != "new":
            raise UsageError(f"{self.kind} executor cannot start: it is {self.state}")
        try:
            self._start(ctx)
        except BaseException:
            self.state = "failed"
            self._close_quietly()
            raise
        self.state = "started"

    def submit(self, task: ShardTask) -> None:
        """Queue one shard."""
        if self.state != "started":
            raise UsageError(f"{self.kind} executor is {self.state}; cannot submit shards")
        self._submit(task)

    def results(self) -> Iterator[ShardResult]:
        """Yield results of submitted shards as they finish, until none is pending."""
        if self.state != "started":
            return
        try:
            yield from self._results()
        except BaseException:
            self.state = "failed"
            raise

    def cancel(self) -> None:
        """Drop pending shards (running ones may finish; their results are discarded)."""
        if self.state in ("started", "failed"):
            self._cancel()

    def close(self) -> None:
        """Stop workers and release resources (idempotent)."""
        if self.state == "closed":
            return
        was_new = self.state == "new"
        self.state = "closed"
        if not was_new:
            self._release()

    def _release(self) -> None:
        if not self._released:
            self._released = True
            self._close()

    def _close_quietly(self) -> None:
        with contextlib.suppress(Exception):  # already failing: report the first error
            self._release()

    @abc.abstractmethod
    def _start(self, ctx: WorkerContext) -> None: ...

    @abc.abstractmethod
    def _submit(self, task: ShardTask) -> None: ...

    @abc.abstractmethod
    def _results(self) -> Iterator[ShardResult]: ...

    @abc.abstractmethod
    def _cancel(self) -> None: ...

    @abc.abstractmethod
    def _close(self) -> None: ...

    def arms_info(self) -> list[dict[str, Any]]:
        """The arms as a worker describes them (for run metadata)."""
        return []

    def worker_pids(self) -> list[int]:
        """Process ids of the workers on this machine (for the resource sampler)."""
        return []


def _unwrap(value: ShardResult | WorkerFailure) -> ShardResult:
    if isinstance(value, WorkerFailure):
        raise value.exception()
    return value


class InlineExecutor(Executor):
    """Everything in this process, one shard at a time (for debugging)."""

    kind = "inline"

    def _start(self, ctx: WorkerContext) -> None:
        self._queue: list[ShardTask] = []
        self._worker = TrialWorker(ctx)

    def _submit(self, task: ShardTask) -> None:
        self._queue.append(task)

    def _results(self) -> Iterator[ShardResult]:
        while self._queue:
            yield self._worker.run(self._queue.pop(0))

    def _cancel(self) -> None:
        if hasattr(self, "_queue"):
            self._queue.clear()

    def _close(self) -> None:
        if hasattr(self, "_worker"):
            self._worker.close()

    def arms_info(self) -> list[dict[str, Any]]:
        return self._worker.describe_arms()


_PROCESS_WORKER: TrialWorker | None = None
_PROCESS_INIT_ERROR: WorkerFailure | None = None


def _worker_name() -> str:
    import os
    import socket

    return f"{socket.gethostname()}:{os.getpid()}"


def _init_process(ctx: WorkerContext, relay: tuple[Any, int, int] | None = None) -> None:
    """Pool initializer: never raises (that would break the pool); the error is kept.

    With ``relay`` (a :class:`LogRelay`'s ``child_args()``) this process's log records go to
    the parent, which handles them as its own (a service job's logs keep them)."""
    global _PROCESS_WORKER, _PROCESS_INIT_ERROR
    if relay is not None:
        relay_child_logs(*relay)
    try:
        _PROCESS_WORKER = TrialWorker(ctx)
    except BaseException as exc:
        _PROCESS_INIT_ERROR = WorkerFailure.capture(exc, _worker_name())
        log.warning("pool process %s could not start its worker: %s", _worker_name(), exc)
        return
    log.info("pool process %s: worker ready", _worker_name())


_Reply = tuple[ShardResult | WorkerFailure, LLMCounts | None]


def _run_in_process(task: ShardTask) -> _Reply:
    """Run one shard; the LLM attempts counted here since the last shard travel with it (this
    process exports nothing: the parent adds them to its own ``/metrics``)."""
    if _PROCESS_INIT_ERROR is not None:
        return _PROCESS_INIT_ERROR, take_llm_counts()
    assert _PROCESS_WORKER is not None, "worker not initialised"
    try:
        value: ShardResult | WorkerFailure = _PROCESS_WORKER.run(task)
    except BaseException as exc:
        value = WorkerFailure.capture(exc, _PROCESS_WORKER.worker)
        log.warning("pool process %s: shard %d failed: %s", _worker_name(), task.shard, exc)
    else:
        log.info("pool process %s: shard %d done", _worker_name(), task.shard)
    return value, take_llm_counts()


def _describe_in_process() -> list[dict[str, Any]] | WorkerFailure:
    if _PROCESS_INIT_ERROR is not None:
        return _PROCESS_INIT_ERROR
    assert _PROCESS_WORKER is not None
    return _PROCESS_WORKER.describe_arms()


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``forkserver`` start method).

    The pool processes' log records are handled by this process on the thread that waits for
    results (:class:`LogRelay`), and the LLM attempts they count come back with each shard and
    are added to this process's totals — what a worker's ``/metrics`` exports."""

    kind = "local"

    def _start(self, ctx: WorkerContext) -> None:
        mp = multiprocessing.get_context("forkserver")
        self._pending: set[Future[_Reply]] = set()
        self._relay = LogRelay(mp)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=mp,
            initializer=_init_process,
            initargs=(ctx, self._relay.child_args()),
        )

    def _submit(self, task: ShardTask) -> None:
        try:
            fut = self._pool.submit(_run_in_process, task)
        except BrokenProcessPool as exc:
            raise _lost(task.shard) from exc
        fut.shard = task.shard  # type: ignore[attr-defined]
        self._pending.add(fut)

    def _results(self) -> Iterator[ShardResult]:
        while self._pending:
            done, self._pending = wait(self._pending, timeout=0.25, return_when=FIRST_COMPLETED)
            self._relay.drain()
            for fut in done:
                try:
                    value, counts = fut.result()
                except BrokenProcessPool as exc:
                    raise _lost(getattr(fut, "shard", None)) from exc
                merge_llm_counts(counts)
                yield _unwrap(value)

    def _cancel(self) -> None:
        for fut in getattr(self, "_pending", ()):
            fut.cancel()
        if hasattr(self, "_pending"):
            self._pending.clear()
        if hasattr(self, "_pool"):
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _close(self) -> None:
        if hasattr(self, "_pool"):
            with self._relay.draining():  # children still logging must not block on the pipe
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._relay.close()

    def worker_pids(self) -> list[int]:
        procs = getattr(getattr(self, "_pool", None), "_processes", None) or {}
        return list(procs)  # a copy: the pool may change it meanwhile

    def arms_info(self) -> list[dict[str, Any]]:
        try:
            fut = self._pool.submit(_describe_in_process)
            while not wait([fut], timeout=0.25).done:
                self._relay.drain()
            self._relay.drain()
            value = fut.result()
        except BrokenProcessPool as exc:
            raise _lost(None) from exc
        if isinstance(value, WorkerFailure):
            raise value.exception()
        return value


def _lost(shard: int | None) -> WorkerLostError:
    where = f" while running shard {shard}" if shard is not None else ""
    return WorkerLostError(
        f"a worker process died{where} (killed, or out of memory); finished shards are "
        "kept — resume the run with `tcplab run --resume RUN_ID`"
    )


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


def make_executor(
    kind: str, workers: int, address: str | None = None, max_retries: int = 2
) -> Executor:
    """Build an executor by name.

    Raises:
        UsageError: unknown kind or a worker count below 1.
    """
    if workers < 1:
        raise UsageError(f"workers must be at least 1 (got {workers})")
    if kind == "inline":
        return InlineExecutor(1)
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address, max_retries)
    raise UsageError(f"unknown executor {kind!r}; known: {', '.join(EXECUTOR_KINDS)}")
