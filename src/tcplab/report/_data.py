"""Load a run's trials and reduce them per arm and per tool (the unit of analysis)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcplab.errors import UsageError
from tcplab.experiment import read_trials
from tcplab.stats import PARSE_FAILURE, UNKNOWN

__all__ = [
    "COLUMNS",
    "LEVELS",
    "ArmData",
    "RunData",
    "label_code",
    "load_run",
    "prediction_code",
]

LEVELS = ("SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL")
"""The ordinal risk levels; their codes are their positions (0..4)."""
_LEVEL_CODE = {name: i for i, name in enumerate(LEVELS)}
COLUMNS = (
    "tool",
    "arm",
    "analyzer",
    "status",
    "predicted_risk",
    "label",
    "timing_mode",
    "latency_ns",
    "cache_hit",
    "cost_usd",
    "explanation",
)
"""The trial columns the report reads."""


def prediction_code(status: str | None, predicted_risk: str | None) -> int:
    """A trial's prediction as an ordinal code.

    ``PARSE_FAILURE`` status gives -2 (``PARSE_FAILURE``); any other non-OK status, or an
    ``UNKNOWN``/missing level, gives -1 (``UNKNOWN``); otherwise the level's position 0..4.
    This is the same rule the experiment uses for its ``correct`` column.
    """
    if status == "PARSE_FAILURE":
        return PARSE_FAILURE
    if status != "OK" or predicted_risk not in _LEVEL_CODE:
        return UNKNOWN
    return _LEVEL_CODE[str(predicted_risk)]


def label_code(label: str | None) -> int | None:
    """A ground-truth label's code 0..4, or None for a missing or unknown label."""
    if label is None:
        return None
    return _LEVEL_CODE.get(label)


@dataclass
class ArmData:
    """One arm's trials grouped by tool (tools in first-seen order).

    Attributes:
        name: the arm's name.
        analyzer: the analyzer behind the arm.
        timing_modes: the timing modes seen (``micro``: latency is a batch mean).
        preds: per tool, the prediction code of each trial.
        latencies: per tool, the positive latencies (ns) of trials that are not cache hits.
        explanations: per tool, each trial's explanation, aligned with ``preds``.
        status_counts: trials per status value.
        n_trials: trials of the arm.
        n_cache_hits: trials answered from a cache (excluded from latency statistics).
        n_latency_excluded: non-cache trials without a positive latency (excluded too).
        cost_reported_usd: sum of ``cost_usd`` (None when no trial reported a cost).
        cost_reported_labeled_usd: the same over trials of labelled tools.
        latency_sum_ns: sum of ``latency_ns`` over every trial (CPU time of local arms).
        latency_sum_labeled_ns: the same over trials of labelled tools.
    """

    name: str
    analyzer: str
    timing_modes: set[str] = field(default_factory=set)
    preds: dict[str, list[int]] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    explanations: dict[str, list[str]] = field(default_factory=dict)
    status_counts: Counter[str] = field(default_factory=Counter)
    n_trials: int = 0
    n_cache_hits: int = 0
    n_latency_excluded: int = 0
    cost_reported_usd: float | None = None
    cost_reported_labeled_usd: float = 0.0
    latency_sum_ns: int = 0
    latency_sum_labeled_ns: int = 0

    @property
    def micro(self) -> bool:
        """True when any trial was micro-timed (``latency_ns`` is a batch mean)."""
        return "micro" in self.timing_modes

    @property
    def llm_priced(self) -> bool:
        """True when the arm's cost is the reported dollars (LLM arms), not CPU time."""
        return self.analyzer == "llm" or bool(self.cost_reported_usd)

    def timed_tools(self) -> dict[str, list[float]]:
        """Tools with at least one usable latency, and those latencies."""
        return {t: v for t, v in self.latencies.items() if v}


@dataclass
class RunData:
    """A run's metadata, its arms (in run order) and the ground truth per tool.

    Attributes:
        run_dir: the run directory.
        meta: ``run.json``.
        arms: arm name -> :class:`ArmData`, in the order the arms first appear.
        labels: tool -> label code, for every labelled tool.
        unlabeled: tools without a (known) label.
    """

    run_dir: Path
    meta: dict[str, Any]
    arms: dict[str, ArmData]
    labels: dict[str, int]
    unlabeled: set[str]


def _arm_order(meta: dict[str, Any], seen: list[str]) -> list[str]:
    spec_arms = [a.get("name") for a in meta.get("spec", {}).get("arms", [])]
    ordered = [a for a in spec_arms if a in seen]
    return ordered + [a for a in seen if a not in ordered]


def load_run(run_dir: Path) -> RunData:
    """Read ``run.json`` and every trial of ``run_dir`` and group them per arm and tool.

    Raises:
        UsageError: no ``run.json``, no trials, or two labels for one tool.
    """
    meta_path = run_dir / "run.json"
    if not meta_path.is_file():
        raise UsageError(f"{run_dir}: no run.json; not a tcplab run directory")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    cols = read_trials(run_dir, COLUMNS).to_pydict()
    arms: dict[str, ArmData] = {}
    labels: dict[str, int] = {}
    unlabeled: set[str] = set()
    for i in range(len(cols["tool"])):
        tool, arm_name = str(cols["tool"][i]), str(cols["arm"][i])
        arm = arms.get(arm_name)
        if arm is None:
            arm = arms[arm_name] = ArmData(arm_name, str(cols["analyzer"][i] or ""))
        code = label_code(cols["label"][i])
        if code is None:
            unlabeled.add(tool)
        elif labels.setdefault(tool, code) != code:
            raise UsageError(f"{run_dir}: tool {tool!r} has two different labels in its trials")
        status = str(cols["status"][i])
        arm.n_trials += 1
        arm.status_counts[status] += 1
        arm.timing_modes.add(str(cols["timing_mode"][i]))
        arm.preds.setdefault(tool, []).append(prediction_code(status, cols["predicted_risk"][i]))
        arm.explanations.setdefault(tool, []).append(str(cols["explanation"][i] or ""))
        lat = cols["latency_ns"][i]
        lats = arm.latencies.setdefault(tool, [])
        arm.latency_sum_ns += int(lat or 0)
        cost = cols["cost_usd"][i]
        if cost is not None:
            arm.cost_reported_usd = (arm.cost_reported_usd or 0.0) + float(cost)
        if code is not None:
            arm.latency_sum_labeled_ns += int(lat or 0)
            arm.cost_reported_labeled_usd += float(cost or 0.0)
        if cols["cache_hit"][i]:
            arm.n_cache_hits += 1
        elif lat is not None and lat > 0:
            lats.append(float(lat))
        else:
            arm.n_latency_excluded += 1
    unlabeled -= set(labels)
    ordered = {name: arms[name] for name in _arm_order(meta, list(arms))}
    return RunData(run_dir, meta, ordered, labels, unlabeled)
