"""The pod's side: run one shard group of a job's run (``tcplab kube run-group``).

A pod of the Indexed Job reads ``task.json`` (mounted from the task ConfigMap), takes the
shards ``s`` with ``s % groups == JOB_COMPLETION_INDEX``, skips those already complete on the
shared runs volume (a retried pod does not redo them) and writes each finished shard atomically
into the run directory. The service's driver adopts the shards when the Job completes and
finishes the run (store, artifacts): a pod never touches ``run.json`` or the database.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from pydantic import ValidationError

from tcplab.analyzers import default_registry
from tcplab.errors import UsageError
from tcplab.experiment import (
    Executor,
    ExperimentSpec,
    InlineExecutor,
    RunDir,
    ShardTask,
    WorkerContext,
    completed_shards,
    make_executor,
    write_shard,
)
from tcplab.kube._jobs import GroupTask

__all__ = ["read_task", "run_group", "shards_of_group"]

log = logging.getLogger("tcplab.kube")


def read_task(path: Path) -> GroupTask:
    """The task file (a ConfigMap key), validated."""
    try:
        return GroupTask.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read the task file {path}: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        raise UsageError(f"{path}: not a task file: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    """A pydantic error as one line: its first problem (and how many more)."""
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": str(exc)}
    where = ".".join(map(str, first["loc"])) or "(top level)"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return " ".join(f"{where}: {first['msg']}{more}".split())


def shards_of_group(n_shards: int, groups: int, index: int) -> list[int]:
    """Shards of completion index ``index`` (round-robin, so groups stay balanced)."""
    if not 0 <= index < groups:
        raise UsageError(f"completion index {index} is outside 0..{groups - 1}")
    return [s for s in range(n_shards) if s % groups == index]


def run_group(task: GroupTask, index: int, runs_dir: Path | None = None) -> list[int]:
    """Run the group's missing shards; the shard indices written by this call."""
    base = runs_dir or Path(os.environ.get("TCPLAB_SERVICE_RUNS_DIR", "."))
    rd = RunDir(base / task.run_path)
    record = rd.read_record()
    if record.spec_hash != task.spec_hash or record.run_id != task.run_id:
        raise UsageError(
            f"{rd.path}: run {record.run_id} does not match the task (run {task.run_id}, "
            f"spec {task.spec_hash[:12]})"
        )
    plan = rd.read_plan(record)
    try:
        spec = ExperimentSpec.model_validate(task.spec)
    except ValidationError as exc:
        raise UsageError(f"the task's spec is not valid: {_first_problem(exc)}") from None
    done = completed_shards(rd.path)
    todo = [s for s in shards_of_group(plan.n_shards, task.groups, index) if s not in done]
    log.info("group %d/%d: %d shard(s) to run", index, task.groups, len(todo))
    if not todo:
        return []
    registry = default_registry()
    classes = tuple(registry.get(a.analyzer) for a in spec.arms)
    ctx = WorkerContext(
        record.run_id, spec.canonical_json(), plan.tools, record.corpus, record.labels, classes
    )
    ex = _executor(spec)
    written: list[int] = []
    try:
        ex.start(ctx)
        for s in todo:
            r = plan.shard_range(s)
            ex.submit(
                ShardTask(
                    s,
                    r.start,
                    plan.tool_idx[r.start : r.stop].copy(),
                    plan.arm_idx[r.start : r.stop].copy(),
                    plan.iteration[r.start : r.stop].copy(),
                )
            )
        for result in ex.results():
            write_shard(rd.path, result.shard, result.table)
            written.append(result.shard)
    finally:
        ex.close()
    return written


def _executor(spec: ExperimentSpec) -> Executor:
    """In the pod: this process (a Job's group), or the RayJob's cluster (``RAY_ADDRESS``,
    set by KubeRay) for a spec whose executor is ray."""
    if spec.executor.kind != "ray":
        return InlineExecutor()
    address = os.environ.get("RAY_ADDRESS") or spec.executor.address
    return make_executor("ray", spec.executor.workers, address, spec.executor.max_retries)
