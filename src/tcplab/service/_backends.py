"""Backends: how a claimed job is executed. A small ABC and a registry, so the mapping from a
job to its execution is not hard-wired.

* ``local``: the run's driver (:func:`tcplab.experiment.run_experiment`) runs in the worker
  process that claimed the job, with the spec's own executor (``inline``, ``local`` pool,
  ``ray``).
* ``ray``: the driver runs in the worker; the trials run on a Ray cluster
  (``TCPLAB_SERVICE_RAY_ADDRESS``, else the spec's ``executor.address``, else a local Ray that
  the worker starts once, with ``TCPLAB_SERVICE_RAY_NUM_CPUS`` CPUs, default all, and keeps
  for every job). The worker process connects once and stays connected, so concurrent jobs
  share the connection and none shuts Ray down under another. Needs ``tcplab[ray]``.

* ``kubernetes``: an Indexed Kubernetes Job (or a KubeRay RayJob) per job, watched by the
  worker (:mod:`tcplab.kube`; needs ``tcplab[kube]``). Other backends register with
  :func:`register_backend`.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from tcplab.errors import MissingDependencyError, StoreUnavailableError, UsageError
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

log = logging.getLogger("tcplab.service")


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

    def close(self) -> None:
        """Release what the backend keeps for the worker process (called once at its exit)."""
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


#: opening a store runs Alembic, whose migration context is global to the process: jobs
#: running in threads of one worker open their stores one at a time
_STORE_LOCK = threading.Lock()


def open_job_store(database_url: str) -> Any:
    """The result store (migrated), or None when the database cannot be reached now (the run
    then writes Parquet only and notes it, as ``run_experiment`` does)."""
    from tcplab.store import open_store

    with _STORE_LOCK:
        try:
            return open_store(database_url)
        except (StoreUnavailableError, MissingDependencyError):
            return None


def complete_store(run_dir: Path, database_url: str) -> None:
    """Load a resumed run into the store again (idempotent): a shard written just before a
    worker was killed is on disk and in ``run.json`` but may be missing from the database."""
    from tcplab.store import sync_run

    store = open_job_store(database_url)
    if store is None:
        raise StoreUnavailableError(f"cannot load run {run_dir.name} into the store now")
    with store:
        sync_run(run_dir, store)


class LocalBackend(Backend):
    """The run's driver in this worker process, trials on the spec's executor."""

    name = "local"

    def execute(self, job: JobRecord, ex: Execution) -> RunOutcome:
        run_dir = self.prepare(job, ex)
        spec = ExperimentSpec.model_validate(job.spec)
        store = open_job_store(ex.database_url)  # the run closes it
        try:
            outcome = run_experiment(
                run_dir,
                executor=self.executor(spec),
                on_shard=lambda progress, result: ex.on_shard(progress, result),
                store=store,
                db=ex.database_url,
                should_stop=ex.should_stop,
            )
        finally:
            if store is not None:
                store.close()  # idempotent; the run closed it unless it failed before
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
        _quiet_ray()
        try:
            importlib.import_module("ray")
        except ImportError as exc:
            raise MissingDependencyError.for_extra("ray", "ray", "the ray backend") from exc

    def close(self) -> None:
        """Disconnect from Ray (and stop the local Ray this worker started)."""
        import ray

        with _RAY_LOCK:
            if ray.is_initialized():
                ray.shutdown()

    def executor(self, spec: ExperimentSpec) -> Executor | None:
        address = os.environ.get("TCPLAB_SERVICE_RAY_ADDRESS") or spec.executor.address
        connect_ray(address)
        workers = _fit_workers(spec.executor.workers)
        return make_executor("ray", workers, address, spec.executor.max_retries)


def _fit_workers(asked: int) -> int:
    """At most one actor (1 CPU each) per CPU of the cluster: more would wait for a CPU that
    the run's own actors hold until it ends, and the run would hang."""
    import ray

    cpus = int(ray.cluster_resources().get("CPU", 0))  # type: ignore[no-untyped-call]
    if cpus < 1:
        raise UsageError("the Ray cluster has no CPU: no actor of the run could start")
    if asked > cpus:
        log.warning(
            "the spec asks for %d Ray workers (1 CPU each); the cluster has %d CPUs: using %d",
            asked,
            cpus,
            cpus,
        )
        return cpus
    return asked


_RAY_LOCK = threading.Lock()


def _quiet_ray() -> None:
    """Before Ray is imported: the worker handles SIGTERM itself (graceful hand-back); Ray's
    C++ failure-signal handler would print a stack dump for it."""
    os.environ.setdefault("RAY_DISABLE_FAILURE_SIGNAL_HANDLER", "1")


def connect_ray(address: str | None) -> None:
    """Connect this worker process to Ray once (``address``, else a new local Ray: never
    someone else's cluster found on the machine); later jobs reuse the connection.

    The executor then finds Ray initialised: it neither starts nor shuts it down, so two jobs
    of one worker cannot race in ``ray.init`` nor end Ray under each other.
    """
    _quiet_ray()
    import ray

    with _RAY_LOCK:
        if ray.is_initialized():
            return
        common: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
        if address:
            ray.init(address=address, **common)
            return
        cpus = os.environ.get("TCPLAB_SERVICE_RAY_NUM_CPUS")
        try:
            num_cpus = int(cpus) if cpus else None
        except ValueError:
            raise UsageError(
                f"TCPLAB_SERVICE_RAY_NUM_CPUS must be an integer (got {cpus!r})"
            ) from None
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **common)


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
