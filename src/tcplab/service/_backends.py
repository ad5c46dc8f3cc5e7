"""Backends: how a claimed job is executed. A small ABC and a registry, so the mapping from a
job to its execution is not hard-wired.

* ``local``: the run's driver (:func:`tcplab.experiment.run_experiment`) runs in the worker
  process that claimed the job, with the spec's own executor (``inline``, ``local`` pool,
  ``ray``).
* ``ray``: the driver runs in the worker; the trials run on a Ray cluster
  (``TCPLAB_SERVICE_RAY_ADDRESS``, else the spec's ``executor.address``, else a local Ray).
  Needs ``tcplab[ray]``.

* ``kubernetes``: an Indexed Kubernetes Job (or a KubeRay RayJob) per job, watched by the
  worker (:mod:`tcplab.kube`; needs ``tcplab[kube]``). Other backends register with
  :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tcplab.errors import MissingDependencyError, UsageError
from tcplab.experiment import (
    Executor,
    ExperimentSpec,
    RunDir,
    RunOutcome,
    make_executor,
    prepare_run,
    run_experiment,
)
from tcplab.service._models import JobRecord

__all__ = [
    "Backend",
    "Execution",
    "LocalBackend",
    "RayBackend",
    "backend_names",
    "get_backend",
    "register_backend",
]


@dataclass
class Execution:
    """What a backend gets besides the job: where runs go, and the runner's hooks.

    Attributes:
        run_dir: the job's run directory from an earlier execution (resume), or None.
        on_run_created: called with (run_id, run_dir) as soon as a new run exists.
        should_stop: polled after every shard; a reason stops the run there.
        on_shard: called with the run's progress (and the shard's result, when the backend
            has it) after every shard.
    """

    runs_dir: Path
    spec_dir: Path
    database_url: str
    run_dir: Path | None
    on_run_created: Callable[[str, Path], None]
    should_stop: Callable[[], str | None]
    on_shard: Callable[..., None]


class Backend(ABC):
    """Executes one job: create (or find) its run, run it to an outcome."""

    name: ClassVar[str]

    def check(self) -> None:
        """Raise if this backend cannot work in this process (e.g. a missing extra)."""
        return None

    def executor(self, spec: ExperimentSpec) -> Executor | None:
        """The executor for the run (None: the spec's own)."""
        return None

    def prepare(self, job: JobRecord, ex: Execution) -> Path:
        """The run directory: the existing one, or a new run (checked by preflight first)."""
        if ex.run_dir is not None and (ex.run_dir / "run.json").is_file():
            return ex.run_dir
        spec = ExperimentSpec.model_validate(job.spec)
        run_dir, record, _plan = prepare_run(spec, ex.spec_dir, ex.runs_dir)
        ex.on_run_created(record.run_id, run_dir)
        return run_dir

    @abstractmethod
    def execute(self, job: JobRecord, ex: Execution) -> RunOutcome:
        """Run the job to an outcome (completed, stopped, cancelled); raise on failure."""


def complete_store(run_dir: Path, database_url: str) -> None:
    """Load a resumed run into the store again (idempotent): a shard written just before a
    worker was killed is on disk and in ``run.json`` but may be missing from the database."""
    from tcplab.store import open_store, sync_run

    with open_store(database_url) as store:
        sync_run(run_dir, store)


class LocalBackend(Backend):
    """The run's driver in this worker process, trials on the spec's executor."""

    name = "local"

    def execute(self, job: JobRecord, ex: Execution) -> RunOutcome:
        run_dir = self.prepare(job, ex)
        spec = ExperimentSpec.model_validate(job.spec)
        outcome = run_experiment(
            run_dir,
            executor=self.executor(spec),
            on_shard=lambda progress, result: ex.on_shard(progress, result),
            db=ex.database_url,
            should_stop=ex.should_stop,
        )
        record = RunDir(run_dir).read_record()
        # a resumed run, or one whose store writes failed (the database was away): load it
        # into the store again, so the store holds every trial too
        if outcome.status == "completed" and (len(record.attempts) > 1 or record.store_errors):
            complete_store(run_dir, ex.database_url)
        return outcome


class RayBackend(LocalBackend):
    """The driver here, the trials on a Ray cluster."""

    name = "ray"

    def check(self) -> None:
        try:
            importlib.import_module("ray")
        except ImportError as exc:
            raise MissingDependencyError.for_extra("ray", "ray", "the ray backend") from exc

    def executor(self, spec: ExperimentSpec) -> Executor | None:
        address = os.environ.get("TCPLAB_SERVICE_RAY_ADDRESS") or spec.executor.address
        return make_executor("ray", spec.executor.workers, address, spec.executor.max_retries)


def _kubernetes() -> Backend:
    """The ``kubernetes`` backend (:mod:`tcplab.kube`), imported when first asked for."""
    from tcplab.kube import KubernetesBackend

    return KubernetesBackend()


_BACKENDS: dict[str, Callable[[], Backend]] = {
    "local": LocalBackend,
    "ray": RayBackend,
    "kubernetes": _kubernetes,
}


def register_backend(name: str, factory: Callable[[], Backend]) -> None:
    """Make ``name`` a backend jobs may ask for and workers may serve."""
    _BACKENDS[name] = factory


def backend_names() -> list[str]:
    """Registered backend names, sorted."""
    return sorted(_BACKENDS)


def get_backend(name: str) -> Backend:
    """A new instance of backend ``name``.

    Raises:
        UsageError: no such backend (the known ones are listed).
    """
    factory: Any = _BACKENDS.get(name)
    if factory is None:
        raise UsageError(f"unknown backend {name!r}; known: {', '.join(backend_names())}")
    backend: Backend = factory()
    return backend
