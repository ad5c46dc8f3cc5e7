"""Executors: where shards run. One small ABC, three implementations.

Lifecycle: ``start(ctx)`` → ``submit(task)`` (any number) → ``results()`` (yields
:class:`ShardResult` as shards finish, in completion order) → ``close()``; ``cancel()`` drops
pending work. Nothing here assumes one machine: tasks and results are plain picklable values,
and only the driver writes files.
"""

from __future__ import annotations

import abc
import multiprocessing
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

from tcplab.errors import MissingDependencyError, UsageError
from tcplab.experiment._worker import ShardResult, ShardTask, TrialWorker, WorkerContext

__all__ = ["Executor", "InlineExecutor", "LocalExecutor", "RayExecutor", "make_executor"]


class Executor(abc.ABC):
    """Runs shards of trials."""

    kind = "executor"

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers

    @abc.abstractmethod
    def start(self, ctx: WorkerContext) -> None:
        """Start workers (each loads its analyzers once)."""

    @abc.abstractmethod
    def submit(self, task: ShardTask) -> None:
        """Queue one shard."""

    @abc.abstractmethod
    def results(self) -> Iterator[ShardResult]:
        """Yield results of submitted shards as they finish, until none is pending."""

    @abc.abstractmethod
    def cancel(self) -> None:
        """Drop pending shards (running ones may finish; their results are discarded)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Stop workers and release resources."""

    def arms_info(self) -> list[dict[str, Any]]:
        """The arms as a worker describes them (for run metadata)."""
        return []


class InlineExecutor(Executor):
    """Everything in this process, one shard at a time (for debugging)."""

    kind = "inline"

    def start(self, ctx: WorkerContext) -> None:
        self._worker = TrialWorker(ctx)
        self._queue: list[ShardTask] = []

    def submit(self, task: ShardTask) -> None:
        self._queue.append(task)

    def results(self) -> Iterator[ShardResult]:
        while self._queue:
            yield self._worker.run(self._queue.pop(0))

    def cancel(self) -> None:
        self._queue.clear()

    def close(self) -> None:
        self._worker.close()

    def arms_info(self) -> list[dict[str, Any]]:
        return self._worker.describe_arms()


_PROCESS_WORKER: TrialWorker | None = None


def _init_process(ctx: WorkerContext) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = TrialWorker(ctx)


def _run_in_process(task: ShardTask) -> ShardResult:
    assert _PROCESS_WORKER is not None, "worker not initialised"
    return _PROCESS_WORKER.run(task)


def _describe_in_process() -> list[dict[str, Any]]:
    assert _PROCESS_WORKER is not None
    return _PROCESS_WORKER.describe_arms()


class LocalExecutor(Executor):
    """A pool of worker processes on this machine (``forkserver`` start method)."""

    kind = "local"

    def start(self, ctx: WorkerContext) -> None:
        mp = multiprocessing.get_context("forkserver")
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=mp, initializer=_init_process, initargs=(ctx,)
        )
        self._pending: set[Future[ShardResult]] = set()

    def submit(self, task: ShardTask) -> None:
        self._pending.add(self._pool.submit(_run_in_process, task))

    def results(self) -> Iterator[ShardResult]:
        while self._pending:
            done, self._pending = wait(self._pending, return_when=FIRST_COMPLETED)
            for fut in done:
                yield fut.result()

    def cancel(self) -> None:
        for fut in self._pending:
            fut.cancel()
        self._pending.clear()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def arms_info(self) -> list[dict[str, Any]]:
        return self._pool.submit(_describe_in_process).result()


class RayExecutor(Executor):
    """Ray actors (one per worker, each loads its analyzers once); shard-level retries.

    Connects to ``address`` when given (e.g. ``ray://head:10001`` or ``auto``), otherwise starts
    a local Ray with the dashboard off.
    """

    kind = "ray"

    def __init__(self, workers: int = 2, address: str | None = None, max_retries: int = 2) -> None:
        super().__init__(workers)
        self.address = address
        self.max_retries = max_retries

    def start(self, ctx: WorkerContext) -> None:
        try:
            import ray
        except ImportError as exc:
            raise MissingDependencyError.for_extra("ray", "ray", "the ray executor") from exc
        self._ray = ray
        self._started_ray = False
        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(
                    num_cpus=self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    configure_logging=False,
                )
                self._started_ray = True
        actor_cls = ray.remote(num_cpus=1, max_restarts=self.max_retries)(_RayShardActor)
        self._actors: list[Any] = [actor_cls.remote(ctx) for _ in range(self.workers)]
        self._free: list[Any] = list(self._actors)
        self._queue: list[ShardTask] = []
        self._running: dict[Any, tuple[Any, ShardTask, int]] = {}

    def _dispatch(self) -> None:
        while self._free and self._queue:
            actor = self._free.pop()
            task = self._queue.pop(0)
            self._running[actor.run.remote(task)] = (actor, task, 0)

    def submit(self, task: ShardTask) -> None:
        self._queue.append(task)
        self._dispatch()

    def results(self) -> Iterator[ShardResult]:
        ray = self._ray
        while self._running or self._queue:
            self._dispatch()
            ready, _ = ray.wait(list(self._running), num_returns=1)
            ref = ready[0]
            actor, task, tries = self._running.pop(ref)
            try:
                result = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.RayTaskError) as exc:
                if tries >= self.max_retries:
                    raise UsageError(
                        f"shard {task.shard} failed {tries + 1} times on Ray: {exc}"
                    ) from exc
                self._running[actor.run.remote(task)] = (actor, task, tries + 1)
                continue
            self._free.append(actor)
            yield result

    def cancel(self) -> None:
        self._queue.clear()
        for ref in list(self._running):
            self._ray.cancel(ref, force=True)
        self._running.clear()

    def close(self) -> None:
        for actor in getattr(self, "_actors", []):
            self._ray.kill(actor)
        if getattr(self, "_started_ray", False):
            self._ray.shutdown()

    def arms_info(self) -> list[dict[str, Any]]:
        return list(self._ray.get(self._actors[0].describe.remote()))


class _RayShardActor:
    def __init__(self, ctx: WorkerContext) -> None:
        self.worker = TrialWorker(ctx)

    def run(self, task: ShardTask) -> ShardResult:
        return self.worker.run(task)

    def describe(self) -> list[dict[str, Any]]:
        return self.worker.describe_arms()


def make_executor(
    kind: str, workers: int, address: str | None = None, max_retries: int = 2
) -> Executor:
    """Build an executor by name."""
    if kind == "inline":
        return InlineExecutor(1)
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        return RayExecutor(workers, address, max_retries)
    raise UsageError(f"unknown executor {kind!r}; known: inline, local, ray")
