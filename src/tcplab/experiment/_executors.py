"""Executors: where shards run. One small ABC, three implementations (Ray's in ``_ray``).

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
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Literal

from tcplab.errors import UsageError, WorkerLostError
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
        from tcplab.experiment._ray import RayExecutor

        return RayExecutor(workers, address, max_retries)
    raise UsageError(f"unknown executor {kind!r}; known: {', '.join(EXECUTOR_KINDS)}")
