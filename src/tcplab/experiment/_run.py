"""The experiment driver: prepare a run, execute (or resume) it, finish it.

:func:`prepare_run` checks everything the spec references (labels, corpus, every arm's
analyzer) *before* the run directory exists, so a spec that cannot run leaves nothing behind.
:func:`run_experiment` owns the whole lifecycle a library caller needs — the same as
``tcplab run``: lock the run directory, compare the inputs with the recorded ones on resume,
dispatch the pending shards, write each atomically with its checksum in the record, write the
SQL store as it goes, and finish (per-tool results into the store, artifacts pushed, status
recorded). The CLI only parses options and draws progress.
"""

from __future__ import annotations

import getpass
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tcplab.analyzers import AnalyzerRegistry
from tcplab.config import ensure_dir, get_settings
from tcplab.errors import ConfigError, RunError, UsageError
from tcplab.experiment._env import collect_environment
from tcplab.experiment._executors import Executor, make_executor
from tcplab.experiment._finish import StoreSession, finish_run
from tcplab.experiment._location import collect_location
from tcplab.experiment._plan import Plan, build_plan
from tcplab.experiment._preflight import Preflight, describe_changes, preflight
from tcplab.experiment._record import Attempt, RunRecord, now_iso
from tcplab.experiment._rundir import RunDir, owner_now, shard_info
from tcplab.experiment._select import resolve_inputs, select_tools
from tcplab.experiment._spec import ExperimentSpec
from tcplab.experiment._timing import calibrate_clock
from tcplab.experiment._worker import ShardResult, ShardTask, WorkerContext
from tcplab.experiment.trials import read_trial_files, write_shard
from tcplab.monitor import RunMonitor, check_interval, sample_interval_default

__all__ = ["Progress", "RunOutcome", "find_run", "prepare_run", "run_experiment", "runs_dir"]

log = logging.getLogger("tcplab")


@dataclass
class Progress:
    """Counters the driver updates after every shard (read by the CLI's display)."""

    total_by_arm: dict[str, int]
    done_by_arm: dict[str, int] = field(default_factory=dict)
    failures_by_arm: dict[str, int] = field(default_factory=dict)
    shards_done: int = 0
    shards_total: int = 0
    cost_usd: float = 0.0


@dataclass(frozen=True)
class RunOutcome:
    """How a run ended, and where its results went."""

    run_id: str
    run_dir: Path
    status: str
    n_trials: int
    shards_run: int
    warnings: tuple[str, ...] = ()
    stored_in: str | None = None
    artifacts_url: str | None = None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "run"


def runs_dir() -> Path:
    """``TCPLAB_HOME/runs``."""
    return get_settings().home / "runs"


def _create_dir(parent: Path, run_id: str) -> RunDir:
    if parent.exists() and not parent.is_dir():
        raise UsageError(f"{parent}: is a file, not a directory for runs")
    ensure_dir(parent, "runs directory")
    try:
        path = parent / run_id
        path.mkdir(exist_ok=False)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the run directory under {parent}: {exc.strerror or exc}"
        ) from exc
    return RunDir(path)


def prepare_run(
    spec: ExperimentSpec,
    spec_dir: Path,
    out: Path | None = None,
    *,
    registry: AnalyzerRegistry | None = None,
) -> tuple[Path, RunRecord, Plan]:
    """Check every input, then create the run directory, ``plan.parquet`` and ``run.json``.

    Raises:
        TcplabError: any input that cannot be used (nothing is created then).
    """
    corpus, labels = resolve_inputs(spec, spec_dir)
    tools = select_tools(spec, corpus, labels)
    plan = build_plan(spec, tools)
    pre = preflight(spec, corpus, labels, registry)
    run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{_slug(spec.name)}-{secrets.token_hex(3)}"
    rd = _create_dir(out or runs_dir(), run_id)
    location = collect_location(pre.arms)  # before any timing: a short TCP/TLS probe
    record = RunRecord(
        run_id=run_id,
        name=spec.name,
        description=spec.description,
        tags=spec.tags,
        spec=spec.model_dump(mode="json"),
        spec_hash=spec.spec_hash(),
        plan_hash=plan.write(rd.plan_path),
        seed=spec.seed,
        corpus=str(corpus) if corpus else None,
        labels=str(labels) if labels else None,
        inputs=pre.inputs,
        created_by=getpass.getuser(),
        n_trials=plan.n_trials,
        n_shards=plan.n_shards,
        n_tools=len(plan.tools),
        trials_by_arm=plan.trials_per_arm(),
        environment=collect_environment(),
        clock=calibrate_clock().to_dict(),
        arms=pre.arms,
        **location,
    )
    rd.write_record(record)
    return rd.path, record, plan


def _task(plan: Plan, shard: int) -> ShardTask:
    r = plan.shard_range(shard)
    return ShardTask(
        shard,
        r.start,
        plan.tool_idx[r.start : r.stop].copy(),
        plan.arm_idx[r.start : r.stop].copy(),
        plan.iteration[r.start : r.stop].copy(),
    )


def find_run(run: str) -> Path:
    """A run directory from a run id (under TCPLAB_HOME/runs) or a path."""
    p = Path(run)
    if (p / "run.json").is_file():
        return p
    q = runs_dir() / run
    if (q / "run.json").is_file():
        return q
    raise UsageError(f"no run {run!r} (looked in {runs_dir()}); `tcplab runs list` shows runs")


def _check_inputs(record: RunRecord, spec: ExperimentSpec, pre: Preflight) -> None:
    """Refuse to resume a run whose inputs changed since it started."""
    if not any(k.startswith("arm:") for k in record.inputs):
        return  # a version-1 record: nothing recorded to compare with
    changes = describe_changes(record.inputs, pre, record.arms)
    if changes:
        raise UsageError(
            f"cannot resume run {record.run_id}: its inputs changed since it started — "
            + "; ".join(changes)
            + ". Restore them, or start a new run"
        )


def _reconcile_shards(rd: RunDir, plan: Plan, record: RunRecord) -> tuple[list[int], list[int]]:
    """Adopt shards written just before a crash, move corrupt ones aside.

    Returns the pending shards and the adopted ones (their trials may be missing from the
    result store: the process died between the shard file and the database write).
    """
    scan = rd.scan_shards(plan, record)
    for idx, info in scan.adopted.items():
        record.shards[str(idx)] = info
    for idx, why in sorted(scan.corrupt.items()):
        path = rd.shard_path(idx)
        moved = rd.move_aside(path) if path.exists() else None
        record.shards.pop(str(idx), None)
        note = f"; moved to {moved.name}" if moved else ""
        record.add_warning(f"shard {idx} was corrupt ({why}){note}; it was re-run")
    for f in scan.unknown:
        record.add_warning(f"{f.name}: not a shard of this run's plan; ignored")
    pending = [s for s in range(plan.n_shards) if s not in scan.complete or s in scan.corrupt]
    return pending, sorted(scan.adopted)


@dataclass
class _Loop:
    """State of one execution of the dispatch loop."""

    rd: RunDir
    record: RunRecord
    plan: Plan
    spec: ExperimentSpec
    progress: Progress
    store: StoreSession
    on_shard: Callable[[Progress, ShardResult], None] | None
    should_stop: Callable[[], str | None] | None
    ran: int = 0
    monitor: RunMonitor | None = None

    def accept(self, result: ShardResult) -> None:
        try:
            path = write_shard(self.rd.path, result.shard, result.table)
            self.record.shards[str(result.shard)] = shard_info(path, result.table.num_rows)
            self.record.shards[str(result.shard)].resources = result.resources or None
        except OSError as exc:
            raise RunError(
                f"cannot write shard {result.shard} under {self.rd.path}: "
                f"{exc.strerror or exc}; finished shards are kept — free space or fix the "
                f"directory, then `tcplab run --resume {self.record.run_id}`"
            ) from exc
        for w in result.warnings:
            self.record.add_warning(w)
        p = self.progress
        self.ran += 1
        p.shards_done += 1
        p.cost_usd += result.cost_usd
        for arm, n in result.trials_by_arm.items():
            p.done_by_arm[arm] = p.done_by_arm.get(arm, 0) + n
        for arm, n in result.failures_by_arm.items():
            p.failures_by_arm[arm] = p.failures_by_arm.get(arm, 0) + n
        self.store.write_shard(self.record, result)
        if self.monitor is not None:
            self.monitor.write_store(self.store.store)
        self.rd.write_record(self.record)  # if this fails the shard is safe: resume adopts it
        if self.on_shard is not None:
            self.on_shard(self.progress, result)

    def stop_reason(self, t0: float) -> tuple[str, str] | None:
        limits = self.spec.limits
        if limits.max_cost_usd is not None and self.progress.cost_usd > limits.max_cost_usd:
            return "stopped", "max_cost_usd"
        if limits.max_duration is not None and time.monotonic() - t0 > limits.max_duration:
            return "stopped", "max_duration"
        reason = self.should_stop() if self.should_stop is not None else None
        return ("cancelled", reason) if reason else None


def _dispatch(loop: _Loop, ex: Executor, pending: list[int]) -> str:
    """Run ``pending`` shards on ``ex``; the status the loop ended with."""
    t0 = time.monotonic()
    window = max(2, 2 * ex.workers)
    for s in pending[:window]:
        ex.submit(_task(loop.plan, s))
    next_i = min(window, len(pending))
    for result in ex.results():
        loop.accept(result)
        stop = loop.stop_reason(t0)
        if stop is not None:
            loop.record.stop_reason = stop[1]
            ex.cancel()
            return stop[0]
        if next_i < len(pending):
            ex.submit(_task(loop.plan, pending[next_i]))
            next_i += 1
    return "completed"


def _execute(loop: _Loop, ex: Executor, pending: list[int], classes: tuple[Any, ...]) -> None:
    rd, record, plan = loop.rd, loop.record, loop.plan
    ctx = WorkerContext(
        record.run_id, loop.spec.canonical_json(), plan.tools, record.corpus, record.labels, classes
    )
    record.status, record.error, record.stop_reason = "running", None, None
    record.owner = owner_now()
    record.attempts.append(
        Attempt(
            started_at=now_iso(),
            executor=ex.kind,
            workers=ex.workers,
            pending_shards=len(pending),
            pid=record.owner.pid,
            host=record.owner.host,
        )
    )
    rd.write_record(record)
    status, error = "failed", None
    try:
        ex.start(ctx)
        status = _dispatch(loop, ex, pending)
    except KeyboardInterrupt:
        status = "cancelled"
        raise
    except BaseException as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        ex.cancel()
        try:
            ex.close()
        finally:
            _stop_monitor(loop)
            _close_record(loop, status, error)


def _start_monitor(loop: _Loop, interval: float, ex: Executor) -> RunMonitor | None:
    try:
        return RunMonitor.start(loop.rd.path, loop.record.run_id, interval, ex.worker_pids)
    except OSError as exc:  # e.g. metrics/ cannot be created: the run goes on unsampled
        loop.record.add_warning(f"resource sampler not started: {exc}"[:300])
        return None


def _stop_monitor(loop: _Loop) -> None:
    if loop.monitor is None:
        return
    try:
        loop.monitor.stop(loop.record, loop.store.store)
    except Exception as exc:  # resource samples never fail a run
        loop.record.add_warning(f"resource sampler: {type(exc).__name__}: {exc}"[:300])


def _close_record(loop: _Loop, status: str, error: str | None) -> None:
    record = loop.record
    complete = len(record.shards) == loop.plan.n_shards
    record.status = "completed" if status == "completed" and complete else status  # type: ignore[assignment]
    record.error = error
    record.finished_at = now_iso()
    record.owner = None
    record.attempts[-1].finished_at = record.finished_at
    record.attempts[-1].status = record.status
    record.attempts[-1].shards_run = loop.ran
    record.attempts[-1].error = error
    record.cost_usd += loop.progress.cost_usd
    record.store_errors.extend(loop.store.errors)
    try:
        loop.rd.write_record(record)
    except RunError as exc:  # e.g. disk full: the error that stopped the run is the one to show
        log.warning("could not record the run's end in %s: %s", loop.rd.run_json, exc)


def _progress(plan: Plan, done: list[int]) -> Progress:
    progress = Progress(
        total_by_arm=plan.trials_per_arm(), shards_total=plan.n_shards, shards_done=len(done)
    )
    for s in done:
        r = plan.shard_range(s)
        for a in plan.arm_idx[r.start : r.stop].tolist():
            arm = plan.arms[a]
            progress.done_by_arm[arm] = progress.done_by_arm.get(arm, 0) + 1
    return progress


def run_experiment(
    run_dir: Path,
    *,
    executor: Executor | None = None,
    on_shard: Callable[[Progress, ShardResult], None] | None = None,
    store: Any = None,
    db: str | None = None,
    use_store: bool = True,
    artifacts: str | None = None,
    registry: AnalyzerRegistry | None = None,
    should_stop: Callable[[], str | None] | None = None,
    sample_interval: float | None = None,
) -> RunOutcome:
    """Run (or resume) the run in ``run_dir`` and finish it.

    Args:
        executor: where shards run (default: the spec's executor).
        on_shard: called after every finished shard (progress display).
        store: an open result store to write to; else one is opened from ``db`` (default
            ``TCPLAB_DATABASE_URL`` or the SQLite file) unless ``use_store`` is false. A store
            that cannot be reached is a warning: trials are safe in Parquet (``runs sync``).
        artifacts: push the finished run here (directory or ``s3://``; default
            ``TCPLAB_ARTIFACTS_URL``; none when unset).
        registry: the analyzer registry that resolves arm names (default: built-ins and
            entry points); analyzers registered on it reach every executor's workers.
        should_stop: polled after each shard; a returned reason cancels the run there.
        sample_interval: seconds between resource samples (``tcplab.monitor``; 0.1 s to 1 h,
            0 = off; default ``TCPLAB_SAMPLE_INTERVAL`` or 1 s), into ``RUN_DIR/metrics/``.

    Raises:
        RunLockedError: another process is executing this run.
        TcplabError: the inputs changed since the run started, or cannot be opened.
    """
    rd = RunDir(run_dir)
    record = rd.read_record()
    plan = rd.read_plan(record)
    spec = ExperimentSpec.model_validate(record.spec)
    interval = sample_interval_default() if sample_interval is None else sample_interval
    if interval:
        check_interval(interval)
    with rd.lock(record):
        corpus = Path(record.corpus) if record.corpus else None
        labels = Path(record.labels) if record.labels else None
        pre = preflight(spec, corpus, labels, registry)
        _check_inputs(record, spec, pre)
        if not record.inputs:
            record.inputs = pre.inputs
        pending, adopted = _reconcile_shards(rd, plan, record)
        done = [s for s in range(plan.n_shards) if s not in pending]
        ex = executor or make_executor(
            spec.executor.kind,
            spec.executor.workers,
            spec.executor.address,
            spec.executor.max_retries,
        )
        session = StoreSession.open(store, db, use_store)
        for idx in adopted:  # written to disk before a crash, perhaps not to the database
            session.write_table(record, idx, read_trial_files([rd.shard_path(idx)]))
        loop = _Loop(rd, record, plan, spec, _progress(plan, done), session, on_shard, should_stop)
        try:
            loop.monitor = _start_monitor(loop, interval, ex)
            _execute(loop, ex, pending, pre.classes)
        except BaseException:
            session.close()
            raise
    return finish_run(rd, record, session, artifacts, loop.ran)
