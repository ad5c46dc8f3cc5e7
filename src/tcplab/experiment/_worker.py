"""Running one shard of trials in a worker (any process, any machine).

A worker loads the corpus, the labels and every arm's analyzer once, calibrates the clock, and
then turns :class:`ShardTask` objects into Arrow tables of trial records. It never writes files:
the driver does, so workers need no shared filesystem.
"""

from __future__ import annotations

import importlib
import os
import socket
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tcplab.analyzers import Analyzer, Assessment, Status, ToolInput, default_registry, load_inputs
from tcplab.errors import TcplabError
from tcplab.experiment._spec import ArmSpec, ExperimentSpec
from tcplab.experiment._timing import ClockCalibration, MicroTimer, calibrate_clock
from tcplab.experiment.trials import TrialLabel, to_table, trial_labels

__all__ = ["ShardResult", "ShardTask", "TrialWorker", "WorkerContext", "WorkerFailure"]


@dataclass(frozen=True)
class WorkerContext:
    """Everything a worker needs, picklable and small.

    ``analyzers`` holds each arm's analyzer class, resolved by the driver's registry, so an
    analyzer registered in the driver (entry point or ``register``) reaches every worker: it
    travels by reference (``module:qualname``; Ray also ships non-importable classes by value).
    """

    run_id: str
    spec_json: str
    tools: tuple[str, ...]
    corpus: str | None
    labels: str | None
    analyzers: tuple[type[Analyzer], ...] = ()


@dataclass(frozen=True)
class WorkerFailure:
    """An exception raised in a worker, carried back to the driver as plain values.

    The driver re-raises it with :meth:`reraise`: a tcplab error comes back as the same type
    with the same message (the CLI prints one line); anything else is a bug and keeps the
    worker's traceback.
    """

    type_path: str
    message: str
    worker: str
    traceback: str
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def capture(cls, exc: BaseException, worker: str) -> WorkerFailure:
        """Describe ``exc`` (raised in a worker)."""
        attrs = {k: tuple(getattr(exc, k)) for k in ("problems", "reasons") if hasattr(exc, k)}
        return cls(
            f"{type(exc).__module__}:{type(exc).__qualname__}",
            str(exc),
            worker,
            "".join(traceback.format_exception(exc)),
            attrs,
        )

    def exception(self) -> BaseException:
        """The exception to raise in the driver."""
        module, _, name = self.type_path.partition(":")
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            cls = None
        if isinstance(cls, type) and issubclass(cls, TcplabError):
            exc: TcplabError = TcplabError.__new__(cls)
            Exception.__init__(exc, self.message)
            for k, v in self.attrs.items():
                setattr(exc, k, v)
            return exc
        return RuntimeError(
            f"worker {self.worker} failed with {self.type_path}: {self.message}\n"
            f"--- worker traceback ---\n{self.traceback}"
        )


@dataclass(frozen=True)
class ShardTask:
    """One shard: consecutive trials ``start..start+len``."""

    shard: int
    start: int
    tool_idx: npt.NDArray[np.int32]
    arm_idx: npt.NDArray[np.int16]
    iteration: npt.NDArray[np.int32]


@dataclass(frozen=True)
class ShardResult:
    """What a worker sends back for one shard."""

    shard: int
    table: pa.Table
    failures_by_arm: dict[str, int]
    trials_by_arm: dict[str, int]
    cost_usd: float
    worker: str
    warnings: tuple[str, ...] = ()
    #: what the worker process used while it ran the shard (see :func:`_shard_resources`)
    resources: dict[str, float] = field(default_factory=dict)


def _rss_bytes() -> float | None:
    try:  # /proc/self/statm: size resident ... in pages (Linux)
        with open("/proc/self/statm", encoding="ascii") as fh:
            return float(int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError):
        return None


def _shard_resources(cpu0: float, wall0: float) -> dict[str, float]:
    """CPU seconds and wall seconds of this process over the shard, RSS at its end and the
    process's peak RSS so far (``ru_maxrss``: a lifetime peak, not the shard's own)."""
    import resource

    out = {
        "cpu_seconds": time.process_time() - cpu0,
        "wall_seconds": time.monotonic() - wall0,
        "maxrss_bytes": float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024),
    }
    rss = _rss_bytes()
    if rss is not None:
        out["rss_bytes"] = rss
    return out


class TrialWorker:
    """Executes shards; holds the loaded analyzers (one instance per arm per process)."""

    def __init__(self, ctx: WorkerContext) -> None:
        self.ctx = ctx
        self.spec = ExperimentSpec.model_validate_json(ctx.spec_json)
        inputs = load_inputs(list(ctx.tools), _path(ctx.corpus), require_corpus=False)
        self.inputs: dict[str, ToolInput] = {t.name: t for t in inputs}
        self.labels: dict[str, TrialLabel] = trial_labels(ctx.labels) if ctx.labels else {}
        self.arms: list[ArmSpec] = list(self.spec.arms)
        classes = ctx.analyzers or _resolve_classes(self.arms)
        self.analyzers: list[Analyzer] = [
            cls(**a.params) for cls, a in zip(classes, self.arms, strict=True)
        ]
        for an in self.analyzers:
            an.open()
        self.modes = [
            a.timing if a.timing != "auto" else an.timing_mode
            for a, an in zip(self.arms, self.analyzers, strict=True)
        ]
        self.calibration: ClockCalibration = calibrate_clock()
        self.timers: dict[int, MicroTimer] = {}
        self.warmed: set[int] = set()
        self.host = socket.gethostname()
        self.worker = f"{self.host}:{os.getpid()}"

    def close(self) -> None:
        """Release every analyzer."""
        for an in self.analyzers:
            an.close()

    def drain_warnings(self) -> list[str]:
        """Warnings the arms raised since the last call (e.g. a saturated LLM client)."""
        out: list[str] = []
        for arm, an in zip(self.arms, self.analyzers, strict=True):
            drain = getattr(an, "drain_warnings", None)
            if callable(drain):
                out.extend(f"arm {arm.name}: {w}" for w in drain())
        return out

    def describe_arms(self) -> list[dict[str, Any]]:
        """Each arm's identity as its analyzer reports it."""
        return [
            {"name": a.name, "analyzer": a.analyzer, "timing": m, "describe": an.describe()}
            for a, an, m in zip(self.arms, self.analyzers, self.modes, strict=True)
        ]

    def _warm(self, arm: int, tool: ToolInput) -> None:
        if arm in self.warmed:
            return
        self.warmed.add(arm)
        if self.modes[arm] == "micro":
            hot = self.analyzers[arm].hot_path()
            if hot is None:
                self.modes[arm] = "macro"
            else:
                timer = MicroTimer(hot, self.calibration, self.spec.micro_min_batch_ns)
                timer.calibrate(tool.name)
                timer.warmup(tool.name, self.spec.warmup)
                self.timers[arm] = timer
                return
        for _ in range(self.spec.warmup):
            self.analyzers[arm].analyze(tool)

    def _trial(self, seq: int, shard: int, tool: str, arm: int, iteration: int) -> dict[str, Any]:
        inp = self.inputs.get(tool) or ToolInput.bare(tool)
        self._warm(arm, inp)
        started = time.time_ns()
        res: Assessment = self.analyzers[arm].analyze(inp)
        rec: dict[str, Any] = {
            "batch_ns": None,
            "batch_size": None,
            "clock_overhead_ns": None,
            "latency_ns": res.timing.total_ns,
        }
        if self.modes[arm] == "micro":
            batch_ns, size = self.timers[arm].measure(tool)
            rec.update(
                batch_ns=batch_ns,
                batch_size=size,
                latency_ns=batch_ns // size,
                clock_overhead_ns=self.calibration.overhead_ns,
            )
        label = self.labels.get(tool)
        ok, level, decision = res.status is Status.OK, res.risk_level.name, res.decision.value
        if label is not None:
            rec.update(label.columns(), correct=label.correct(ok, level, decision))
        rec.update(
            run_id=self.ctx.run_id,
            shard=shard,
            seq=seq,
            tool=tool,
            arm=self.arms[arm].name,
            analyzer=self.arms[arm].analyzer,
            iteration=iteration,
            status=res.status.value,
            predicted_risk=level,
            predicted_capabilities=list(res.capabilities),
            decision=decision,
            # an arm whose assessments carry a confidence (e.g. a learned registry) records it
            confidence=getattr(res, "confidence", None),
            timing_mode=self.modes[arm],
            queue_wait_ns=res.timing.queue_wait_ns,
            backoff_wait_ns=res.timing.backoff_wait_ns,
            ttft_ns=res.timing.ttft_ns,
            service_ns=res.timing.service_ns,
            total_ns=res.timing.total_ns,
            cache_hit=res.cache.hit,
            cache_original_latency_ns=res.cache.original_latency_ns,
            prompt_tokens=res.usage.prompt_tokens,
            completion_tokens=res.usage.completion_tokens,
            cost_usd=res.usage.cost_usd,
            attempts=res.attempts,
            model_id=res.model.model_id,
            model_version=res.model.version,
            error=res.error,
            explanation=(res.explanation or "")[:2000],
            worker=self.worker,
            host=self.host,
            pid=os.getpid(),
            started_at_ns=started,
            finished_at_ns=time.time_ns(),
        )
        return rec

    def run(self, task: ShardTask) -> ShardResult:
        """Run every trial of ``task`` in plan order."""
        cpu0, wall0 = time.process_time(), time.monotonic()
        records = []
        fails: dict[str, int] = {}
        counts: dict[str, int] = {}
        cost = 0.0
        tools = self.ctx.tools
        for k in range(len(task.tool_idx)):
            arm = int(task.arm_idx[k])
            rec = self._trial(
                task.start + k,
                task.shard,
                tools[int(task.tool_idx[k])],
                arm,
                int(task.iteration[k]),
            )
            records.append(rec)
            name = self.arms[arm].name
            counts[name] = counts.get(name, 0) + 1
            if rec["status"] != Status.OK.value:
                fails[name] = fails.get(name, 0) + 1
            cost += rec["cost_usd"] or 0.0
        return ShardResult(
            task.shard,
            to_table(records),
            fails,
            counts,
            cost,
            self.worker,
            tuple(self.drain_warnings()),
            _shard_resources(cpu0, wall0),
        )


def _resolve_classes(arms: list[ArmSpec]) -> list[type[Analyzer]]:

    registry = default_registry()
    return [registry.get(a.analyzer) for a in arms]


def _path(value: str | None) -> Any:
    from pathlib import Path

    return Path(value) if value else None
