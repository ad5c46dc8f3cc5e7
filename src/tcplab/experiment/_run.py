"""The experiment driver: plan, dispatch shards, write results atomically, resume.

Run directory (``TCPLAB_HOME/runs/RUN_ID/`` by default)::

    run.json                  metadata: resolved spec + hash, plan hash, seed, versions, host,
                              clock calibration, git commit, start/end, status
    plan.parquet              the plan (see _plan.py)
    trials/shard-NNNNNN.parquet   one file per finished shard, written atomically

A shard is either complete on disk or absent, so ``--resume`` re-runs exactly the missing
shards. Ctrl-C cancels cleanly (status ``cancelled``) and leaves the run resumable.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tcplab.config import get_settings
from tcplab.errors import UsageError
from tcplab.experiment._env import collect_environment
from tcplab.experiment._executors import Executor, make_executor
from tcplab.experiment._plan import Plan, build_plan, read_plan
from tcplab.experiment.trials import completed_shards, write_shard
from tcplab.experiment._select import resolve_inputs, select_tools
from tcplab.experiment._spec import ExperimentSpec
from tcplab.experiment._timing import calibrate_clock
from tcplab.experiment._worker import ShardResult, ShardTask, WorkerContext

__all__ = ["RUN_SCHEMA_VERSION", "Progress", "RunOutcome", "prepare_run", "run_experiment"]

RUN_SCHEMA_VERSION = 1


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
    """How a run ended."""

    run_id: str
    run_dir: Path
    status: str
    n_trials: int
    shards_run: int


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".run.", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, indent=2, sort_keys=True, default=str)
    os.replace(tmp, path)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:40] or "run"


def runs_dir() -> Path:
    """``TCPLAB_HOME/runs``."""
    return get_settings().home / "runs"


def prepare_run(
    spec: ExperimentSpec, spec_dir: Path, out: Path | None = None
) -> tuple[Path, dict[str, Any], Plan]:
    """Resolve tools, build the plan, create the run directory and ``run.json``."""
    corpus, labels = resolve_inputs(spec, spec_dir)
    tools = select_tools(spec, corpus, labels)
    plan = build_plan(spec, tools)
    run_id = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{_slug(spec.name)}-{secrets.token_hex(3)}"
    run_dir = (out or runs_dir()) / run_id
    run_dir.mkdir(parents=True, exist_ok=False)
    plan_hash = plan.write(run_dir / "plan.parquet")
    meta: dict[str, Any] = {
        "schema_version": RUN_SCHEMA_VERSION,
        "run_id": run_id,
        "name": spec.name,
        "type": "experiment",
        "description": spec.description,
        "tags": spec.tags,
        "spec": spec.model_dump(mode="json"),
        "spec_hash": spec.spec_hash(),
        "plan_hash": plan_hash,
        "seed": spec.seed,
        "corpus": str(corpus) if corpus else None,
        "labels": str(labels) if labels else None,
        "status": "created",
        "created_by": getpass.getuser(),
        "started_at": _now(),
        "finished_at": None,
        "n_trials": plan.n_trials,
        "n_shards": plan.n_shards,
        "n_tools": len(plan.tools),
        "trials_by_arm": plan.trials_per_arm(),
        "environment": collect_environment(),
        "clock": calibrate_clock().to_dict(),
        "arms": [],
        "attempts": [],
    }
    _write_json(run_dir / "run.json", meta)
    return run_dir, meta, plan


def _task(plan: Plan, shard: int) -> ShardTask:
    r = plan.shard_range(shard)
    return ShardTask(
        shard,
        r.start,
        plan.tool_idx[r.start : r.stop].copy(),
        plan.arm_idx[r.start : r.stop].copy(),
        plan.iteration[r.start : r.stop].copy(),
    )


def _load_for_resume(run_dir: Path) -> tuple[dict[str, Any], Plan, ExperimentSpec]:
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise UsageError(f"{run_dir}: no run.json; not a tcplab run directory")
    meta = json.loads(meta_path.read_text())
    if meta.get("schema_version") != RUN_SCHEMA_VERSION:
        raise UsageError(
            f"{meta_path}: run schema version {meta.get('schema_version')} is "
            f"not supported (this tcplab writes {RUN_SCHEMA_VERSION})"
        )
    plan, stored = read_plan(run_dir / "plan.parquet")
    if plan.plan_hash() != stored or stored != meta["plan_hash"]:
        raise UsageError(f"{run_dir}: plan.parquet does not match its hash; cannot resume")
    return meta, plan, ExperimentSpec.model_validate(meta["spec"])


def find_run(run: str) -> Path:
    """A run directory from a run id (under TCPLAB_HOME/runs) or a path."""
    p = Path(run)
    if (p / "run.json").is_file():
        return p
    q = runs_dir() / run
    if (q / "run.json").is_file():
        return q
    raise UsageError(f"no run {run!r} (looked in {runs_dir()}); `tcplab runs list` shows runs")


def run_experiment(
    run_dir: Path,
    *,
    executor: Executor | None = None,
    on_shard: Callable[[Progress, ShardResult], None] | None = None,
    store: Any | None = None,
) -> RunOutcome:
    """Run (or resume) the run in ``run_dir``: only shards without a trial file are run."""
    meta, plan, spec = _load_for_resume(run_dir)
    done = completed_shards(run_dir)
    pending = [s for s in range(plan.n_shards) if s not in done]
    ex = executor or make_executor(
        spec.executor.kind, spec.executor.workers, spec.executor.address, spec.executor.max_retries
    )
    progress = Progress(
        total_by_arm=plan.trials_per_arm(), shards_total=plan.n_shards, shards_done=len(done)
    )
    for s in done:
        for arm, n in _arm_counts(plan, s).items():
            progress.done_by_arm[arm] = progress.done_by_arm.get(arm, 0) + n
    ctx = WorkerContext(
        meta["run_id"], spec.canonical_json(), plan.tools, meta.get("corpus"), meta.get("labels")
    )
    meta["status"] = "running"
    meta["attempts"].append(
        {
            "started_at": _now(),
            "executor": ex.kind,
            "workers": ex.workers,
            "pending_shards": len(pending),
        }
    )
    _write_json(run_dir / "run.json", meta)
    status, t0, ran = "completed", time.monotonic(), 0
    limits = spec.limits
    try:
        ex.start(ctx)
        if not meta["arms"]:
            meta["arms"] = ex.arms_info()
        window = max(2, 2 * ex.workers)
        queue = list(pending)
        for s in queue[:window]:
            ex.submit(_task(plan, s))
        next_i = min(window, len(queue))
        for result in ex.results():
            write_shard(run_dir, result.shard, result.table)
            ran += 1
            progress.shards_done += 1
            progress.cost_usd += result.cost_usd
            for arm, n in result.trials_by_arm.items():
                progress.done_by_arm[arm] = progress.done_by_arm.get(arm, 0) + n
            for arm, n in result.failures_by_arm.items():
                progress.failures_by_arm[arm] = progress.failures_by_arm.get(arm, 0) + n
            if store is not None:
                store = _store_write(store, meta, result)
            if on_shard is not None:
                on_shard(progress, result)
            over_cost = limits.max_cost_usd is not None and progress.cost_usd > limits.max_cost_usd
            over_time = (
                limits.max_duration is not None and time.monotonic() - t0 > limits.max_duration
            )
            if over_cost or over_time:
                status = "stopped"
                meta["stop_reason"] = "max_cost_usd" if over_cost else "max_duration"
                ex.cancel()
                break
            if next_i < len(queue):
                ex.submit(_task(plan, queue[next_i]))
                next_i += 1
    except KeyboardInterrupt:
        status = "cancelled"
        ex.cancel()
        raise
    except BaseException:
        status = "failed"
        ex.cancel()
        raise
    finally:
        try:
            ex.close()
        finally:
            complete = len(completed_shards(run_dir)) == plan.n_shards
            meta["status"] = "completed" if status == "completed" and complete else status
            meta["finished_at"] = _now()
            meta["attempts"][-1].update(
                finished_at=meta["finished_at"], status=meta["status"], shards_run=ran
            )
            meta["cost_usd"] = meta.get("cost_usd", 0.0) + progress.cost_usd
            _write_json(run_dir / "run.json", meta)
    return RunOutcome(meta["run_id"], run_dir, meta["status"], plan.n_trials, ran)


def _arm_counts(plan: Plan, shard: int) -> dict[str, int]:
    r = plan.shard_range(shard)
    out: dict[str, int] = {}
    for a in plan.arm_idx[r.start : r.stop].tolist():
        out[plan.arms[a]] = out.get(plan.arms[a], 0) + 1
    return out


def _store_write(store: Any, meta: dict[str, Any], result: ShardResult) -> Any:
    """Write a shard to the SQL store; on failure keep going without the store."""
    try:
        store.upsert_run(meta)
        store.write_trials(meta["run_id"], result.shard, result.table)
        store.mark_shard(meta["run_id"], result.shard, "completed", result.table.num_rows)
    except Exception as exc:  # the database is optional during a run
        meta.setdefault("store_errors", []).append(f"{type(exc).__name__}: {exc}"[:300])
        return None
    return store
