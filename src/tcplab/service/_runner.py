"""One execution of one job, inside a worker (the body of the ``tcplab.run_job`` task).

claim → backend.execute (resumes the job's run when it has one) → record the outcome. Every
write after the claim is guarded by this execution's id, so an execution that lost its lease
(and was superseded) can no longer change the job.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError

from tcplab.errors import (
    ConfigError,
    CorpusError,
    DescriptorError,
    ExecutionFailedError,
    LabelsError,
    MissingDependencyError,
    RegistryError,
    StoreError,
    UsageError,
)
from tcplab.experiment import Progress, RunOutcome
from tcplab.service._backends import Execution, get_backend
from tcplab.service._db import ServiceDB
from tcplab.service._jobs import now, record_from_row, update_owned
from tcplab.service._metrics_worker import observe_shard
from tcplab.service._models import ArmProgress, JobProgress, JobRecord
from tcplab.service._queue import HandBack, RetryableJobError
from tcplab.service._settings import ServiceSettings
from tcplab.service._tables import jobs

__all__ = ["PERMANENT_ERRORS", "WorkerRuntime", "execute_job", "is_permanent"]

log = logging.getLogger("tcplab.service")

#: failures a retry cannot fix: the job fails at once with the error as its reason
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    UsageError,
    ConfigError,
    MissingDependencyError,
    ExecutionFailedError,
    DescriptorError,
    RegistryError,
    CorpusError,
    LabelsError,
    ValidationError,
)


def is_permanent(exc: BaseException) -> bool:
    """True for a failure a retry cannot fix (bad spec, missing extra, missing registry...)."""
    return isinstance(exc, PERMANENT_ERRORS)


@dataclass
class WorkerRuntime:
    """State a worker process shares with its job threads."""

    settings: ServiceSettings
    db: ServiceDB
    name: str
    policy: Any
    shutting_down: threading.Event = field(default_factory=threading.Event)
    running: dict[str, str] = field(default_factory=dict)  # job id → execution id
    lock: threading.Lock = field(default_factory=threading.Lock)
    logs: Any = None  # the JobLogHandler that stores job threads' log lines (job_logs)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:2000]


def _claim(rt: WorkerRuntime, job_id: str, vehicle: int, execution: str) -> JobRecord | None:
    """Mark the job running for this execution; None when it is not this vehicle's to run."""
    t = now()
    with rt.db.begin() as conn:
        row = (
            conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state.in_(("queued", "running")),
                    jobs.c.queue_job_id == vehicle,
                    jobs.c.cancel_requested_at.is_(None),
                )
                .values(
                    state="running",
                    attempts=jobs.c.attempts + 1,
                    execution_id=execution,
                    worker=rt.name,
                    started_at=sa.func.coalesce(jobs.c.started_at, t),
                    heartbeat_at=t,
                    updated_at=t,
                    finished_at=None,
                )
                .returning(*jobs.c)
            )
            .mappings()
            .first()
        )
        if row is None:  # a cancel asked of an execution that was then lost: finish it
            conn.execute(
                jobs.update()
                .where(
                    jobs.c.id == job_id,
                    jobs.c.state == "running",
                    jobs.c.queue_job_id == vehicle,
                    jobs.c.cancel_requested_at.is_not(None),
                )
                .values(
                    state="cancelled",
                    reason=sa.func.concat("cancelled by ", jobs.c.cancel_requested_by),
                    finished_at=t,
                    updated_at=t,
                )
            )
    return record_from_row(row) if row else None


def _progress_record(p: Progress) -> dict[str, Any]:
    arms = {
        a: ArmProgress(
            done=p.done_by_arm.get(a, 0), total=total, failures=p.failures_by_arm.get(a, 0)
        )
        for a, total in p.total_by_arm.items()
    }
    return JobProgress(
        arms=arms,
        shards_done=p.shards_done,
        shards_total=p.shards_total,
        trials_done=sum(a.done for a in arms.values()),
        trials_total=sum(a.total for a in arms.values()),
        updated_at=now(),
    ).model_dump(mode="json")


class _Hooks:
    """The runner's side of :class:`Execution`: cancel/shutdown polling, progress, run id."""

    def __init__(self, rt: WorkerRuntime, job: JobRecord, execution: str) -> None:
        self.rt, self.job, self.execution = rt, job, execution
        self.cause: str | None = None
        self.stop_reason: str | None = None

    def should_stop(self) -> str | None:
        if self.rt.shutting_down.is_set():
            self.cause = "shutdown"
            return f"worker {self.rt.name} is shutting down; the job goes back to the queue"
        try:
            with self.rt.db.begin() as conn:
                row = conn.execute(
                    sa.select(jobs.c.execution_id, jobs.c.cancel_requested_by).where(
                        jobs.c.id == self.job.id
                    )
                ).first()
        except StoreError as exc:  # keep running: the trials are safe on disk
            log.warning("job %s: cannot poll for a cancel: %s", self.job.id, exc)
            return None
        if row is None or row[0] != self.execution:
            self.cause = "superseded"
            return "another execution took this job over (lease expired)"
        if row[1] is not None:
            self.cause, self.stop_reason = "cancel", f"cancelled by {row[1]}"
            return self.stop_reason
        return None

    def on_shard(self, progress: Progress, result: Any = None) -> None:
        if result is not None:
            observe_shard(result.table)
        log.info(
            "job %s: %d/%d shards, %d/%d trials",
            self.job.id,
            progress.shards_done,
            progress.shards_total,
            sum(progress.done_by_arm.values()),
            sum(progress.total_by_arm.values()),
        )
        if self.rt.logs is not None:
            self.rt.logs.flush()
        try:
            update_owned(
                self.rt.db,
                self.job.id,
                self.execution,
                progress=_progress_record(progress),
                heartbeat_at=now(),
            )
        except StoreError as exc:
            log.warning("job %s: cannot record progress: %s", self.job.id, exc)

    def on_run_created(self, run_id: str, run_dir: Path) -> None:
        update_owned(self.rt.db, self.job.id, self.execution, run_id=run_id, run_dir=str(run_dir))


def _finish(rt: WorkerRuntime, job: JobRecord, execution: str, state: str, **values: Any) -> None:
    update_owned(rt.db, job.id, execution, state=state, finished_at=now(), **values)


def _record_outcome(
    rt: WorkerRuntime, job: JobRecord, execution: str, hooks: _Hooks, outcome: RunOutcome
) -> None:
    """Turn the run's outcome into the job's state (or hand the job back)."""
    status = outcome.status
    if status in ("completed", "stopped"):
        reason = None if status == "completed" else "the run stopped at a limit of its spec"
        _finish(rt, job, execution, "succeeded", run_status=status, reason=reason)
        return
    if hooks.cause == "cancel":
        _finish(
            rt,
            job,
            execution,
            "cancelled",
            run_status=status,
            reason=f"{hooks.stop_reason or 'cancelled'} after {outcome.shards_run} shard(s) in "
            "this execution; finished shards are kept",
        )
        return
    if hooks.cause == "superseded":
        return
    if hooks.cause == "shutdown":
        update_owned(
            rt.db,
            job.id,
            execution,
            state="queued",
            run_status=status,
            reason=f"handed back by {rt.name} at shutdown; finished shards are kept",
        )
        raise HandBack(f"job {job.id} handed back at shutdown")
    _finish(rt, job, execution, "failed", run_status=status, reason=f"run ended {status}")


def _record_failure(
    rt: WorkerRuntime, context: Any, job: JobRecord, execution: str, exc: BaseException
) -> None:
    """Fail the job at once (permanent error, or retries used up) or queue it for a retry;
    then raise what tells the queue the same."""
    reason = _reason(exc)
    if is_permanent(exc):
        _finish(rt, job, execution, "failed", reason=reason)
        raise exc
    retry = RetryableJobError(reason)
    decision = rt.policy.get_retry_decision(exception=retry, job=context.job)
    attempt = context.job.attempts + 1
    if decision is None:
        _finish(
            rt, job, execution, "failed", reason=f"gave up after {attempt} attempt(s): {reason}"
        )
    else:
        update_owned(
            rt.db,
            job.id,
            execution,
            state="queued",
            reason=f"attempt {attempt} failed ({reason}); retrying at {decision.retry_at:%H:%M:%S}",
        )
    raise retry from exc


def _give_up_if_exhausted(rt: WorkerRuntime, context: Any, job: JobRecord, execution: str) -> bool:
    """A vehicle re-queued by lost leases past ``max_attempts``: fail the job."""
    if context.job.attempts < rt.settings.max_attempts:
        return False
    _finish(
        rt,
        job,
        execution,
        "failed",
        reason=f"gave up after {context.job.attempts} attempt(s): its workers were lost "
        f"(no heartbeat for {rt.settings.lease_seconds:g} s)",
    )
    return True


def execute_job(context: Any, job_id: str) -> None:
    """The ``tcplab.run_job`` task: run job ``job_id`` once (procrastinate calls it)."""
    rt: WorkerRuntime = context.additional_context["runtime"]
    execution = uuid.uuid4().hex
    job = _claim(rt, job_id, int(context.job.id), execution)
    if job is None:
        log.info("job %s: nothing to do (finished, cancelled or not this vehicle's)", job_id)
        return
    if _give_up_if_exhausted(rt, context, job, execution):
        return
    with rt.lock:
        rt.running[job_id] = execution
    if rt.logs is not None:
        rt.logs.bind(job_id, execution)
    log.info(
        "job %s: attempt %d on worker %s (execution %s)", job_id, job.attempts, rt.name, execution
    )
    hooks = _Hooks(rt, job, execution)
    try:
        ex = Execution(
            runs_dir=rt.settings.resolved_runs_dir(),
            spec_dir=rt.settings.resolved_spec_dir(),
            database_url=rt.settings.postgres_url(),
            run_dir=Path(job.run_dir) if job.run_dir else None,
            on_run_created=hooks.on_run_created,
            should_stop=hooks.should_stop,
            on_shard=hooks.on_shard,
        )
        try:
            outcome = get_backend(job.backend).execute(job, ex)
        except (HandBack, RetryableJobError):
            raise
        except Exception as exc:
            _record_failure(rt, context, job, execution, exc)
        else:
            log.info(
                "job %s: run %s, %d shard(s) in this execution",
                job_id,
                outcome.status,
                outcome.shards_run,
            )
            _record_outcome(rt, job, execution, hooks, outcome)
    except BaseException as exc:
        log.warning("job %s: execution ended: %s", job_id, _reason(exc))
        raise
    finally:
        with rt.lock:
            rt.running.pop(job_id, None)
        if rt.logs is not None:
            log.info("job %s: execution %s done", job_id, execution)
            rt.logs.unbind()
