"""Load a run for the report: its metadata, its per-(tool, arm) reduction and what else the
report shows per arm (statuses, timing modes, explanations, costs)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcplab.errors import UsageError
from tcplab.report._read import arm_order, read_run_json, read_run_trials, run_warnings
from tcplab.report.reduce import (
    LEVELS,
    REDUCE_COLUMNS,
    ToolArmReduction,
    label_code,
    prediction_code,
    reduce_trials,
)

__all__ = [
    "COLUMNS",
    "LEVELS",
    "ArmData",
    "RunData",
    "label_code",
    "load_run",
    "prediction_code",
]

COLUMNS = (*REDUCE_COLUMNS, "timing_mode", "cost_usd", "explanation", "confidence")
"""The trial columns the report reads."""


@dataclass
class ArmData:
    """One arm: its per-tool reduction plus what the report shows beyond it.

    Attributes:
        name: the arm's name.
        analyzer: the analyzer behind the arm.
        tools: tool -> :class:`~tcplab.report.reduce.ToolArmReduction` (first-seen order).
        timing_modes: the timing modes seen (``micro``: latency is a batch mean).
        explanations: per tool, each trial's explanation, aligned with its predictions.
        status_counts: trials per status value.
        n_trials: trials of the arm.
        cost_reported_usd: sum of ``cost_usd`` (None when no trial reported a cost).
        cost_reported_labeled_usd: the same over trials of labelled tools.
        latency_sum_ns: sum of ``latency_ns`` over every trial (CPU time of local arms).
        latency_sum_labeled_ns: the same over trials of labelled tools.
        confidences: per tool, each trial's ``confidence`` (None where it has none).
    """

    name: str
    analyzer: str
    tools: dict[str, ToolArmReduction] = field(default_factory=dict)
    timing_modes: set[str] = field(default_factory=set)
    explanations: dict[str, list[str]] = field(default_factory=dict)
    status_counts: Counter[str] = field(default_factory=Counter)
    n_trials: int = 0
    cost_reported_usd: float | None = None
    cost_reported_labeled_usd: float = 0.0
    latency_sum_ns: int = 0
    latency_sum_labeled_ns: int = 0
    confidences: dict[str, list[float | None]] = field(default_factory=dict)

    @property
    def preds(self) -> dict[str, list[int]]:
        """Per tool, the prediction code of each trial."""
        return {t: list(r.predictions) for t, r in self.tools.items()}

    @property
    def latencies(self) -> dict[str, list[float]]:
        """Per tool, the latencies of its timed trials (OK, not cache hits, positive)."""
        return {t: list(r.latencies_ns) for t, r in self.tools.items()}

    @property
    def micro(self) -> bool:
        """True when any trial was micro-timed (``latency_ns`` is a batch mean)."""
        return "micro" in self.timing_modes

    @property
    def llm_priced(self) -> bool:
        """True when the arm's cost is the reported dollars (LLM arms), not CPU time."""
        return self.analyzer == "llm" or bool(self.cost_reported_usd)

    def timed_tools(self) -> dict[str, list[float]]:
        """Tools with at least one timed trial, and those latencies."""
        return {t: list(r.latencies_ns) for t, r in self.tools.items() if r.latencies_ns}


@dataclass
class RunData:
    """A run's metadata, its arms (in run order) and the ground truth per tool.

    Attributes:
        run_dir: the run directory.
        meta: ``run.json``.
        arms: arm name -> :class:`ArmData`, in spec order (then first seen).
        labels: tool -> label code, for every labelled tool.
        unlabeled: tools without a (known) label.
        rows: the run's per-(tool, arm) reduction (:func:`~tcplab.report.reduce_trials`).
        warnings: the run's warnings (``run.json`` ``warnings``; empty for older runs).
    """

    run_dir: Path
    meta: dict[str, Any]
    arms: dict[str, ArmData]
    labels: dict[str, int]
    unlabeled: set[str]
    rows: list[ToolArmReduction] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _labels(rows: list[ToolArmReduction], run_dir: Path) -> tuple[dict[str, int], set[str]]:
    labels: dict[str, int] = {}
    tools: set[str] = set()
    for r in rows:
        tools.add(r.tool)
        if r.label is not None and labels.setdefault(r.tool, r.label) != r.label:
            raise UsageError(f"{run_dir}: tool {r.tool!r} has two different labels in its trials")
    return labels, tools - set(labels)


def _add_extras(arms: dict[str, ArmData], cols: dict[str, list[Any]]) -> None:
    """Statuses, timing modes, explanations and cost sums per arm, trial by trial."""
    for i in range(len(cols["tool"])):
        tool, arm_name = cols["tool"][i], cols["arm"][i]
        if tool is None or arm_name is None or arm_name not in arms:
            continue
        arm = arms[arm_name]
        arm.n_trials += 1
        arm.status_counts[str(cols["status"][i])] += 1
        arm.timing_modes.add(str(cols["timing_mode"][i]))
        arm.explanations.setdefault(str(tool), []).append(str(cols["explanation"][i] or ""))
        arm.confidences.setdefault(str(tool), []).append(cols["confidence"][i])
        lat, cost = int(cols["latency_ns"][i] or 0), cols["cost_usd"][i]
        arm.latency_sum_ns += lat
        if cost is not None:
            arm.cost_reported_usd = (arm.cost_reported_usd or 0.0) + float(cost)
        if label_code(cols["label"][i]) is not None:
            arm.latency_sum_labeled_ns += lat
            arm.cost_reported_labeled_usd += float(cost or 0.0)


def load_run(run_dir: Path) -> RunData:
    """Read ``run.json`` and every trial of ``run_dir``, reduced per (tool, arm).

    Raises:
        UsageError: no or invalid ``run.json``, no trials, an unreadable shard, or two
            labels for one tool.
    """
    meta = read_run_json(run_dir)
    warnings = run_warnings(meta, run_dir / "run.json")
    table = read_run_trials(run_dir, COLUMNS)
    rows = reduce_trials(table)
    labels, unlabeled = _labels(rows, run_dir)
    arms: dict[str, ArmData] = {}
    for r in rows:
        arm = arms.setdefault(r.arm, ArmData(r.arm, r.analyzer))
        arm.tools[r.tool] = r
    names = set(table.column_names)
    cols = {c: table[c].to_pylist() if c in names else [None] * table.num_rows for c in COLUMNS}
    _add_extras(arms, cols)
    ordered = {name: arms[name] for name in arm_order(meta, list(arms))}
    return RunData(run_dir, meta, ordered, labels, unlabeled, rows, warnings)
