"""The one reduction of a run's trials: per (tool, arm), then per arm.

Every view of a run's results calls these functions, so they cannot disagree: the report
(``summary.json``, ``report.html``/``.md``), the SQL store's ``results`` rows
(:func:`tcplab.store.compute_results`) and the quickstart table (:func:`arm_table`).
The definitions are in ``docs/statistics.md`` ("One reduction of a run"):

* a trial's **prediction** is :func:`prediction_code` (failures predict UNKNOWN or
  PARSE_FAILURE); it is **correct** when it equals the tool's label; a tool without a label
  is excluded from accuracy;
* a trial is **timed** when its status is ``OK``, it is not a cache hit and its
  ``latency_ns`` is positive. Failed trials are counted as failures and cache hits are
  counted apart; neither enters any latency statistic. A tool (or arm) with no timed
  trial has no latency (None), never 0;
* per tool: the modal prediction, the fraction of correct trials, the median / mean / p99
  of the timed latencies, and the shares of trials approved, rejected and covered;
* per arm: accuracy = mean over labelled tools of the per-tool fraction correct; latency
  p50/p90/p99 = percentiles of the per-tool medians (linear interpolation); the decision
  safety rates (:func:`safety_values`); the speed ratio to the reference arm.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tcplab.descriptor import Decision, RiskLevel, decide
from tcplab.errors import UsageError
from tcplab.report._read import arm_order as spec_arm_order
from tcplab.report._read import read_run_json, read_run_trials
from tcplab.stats import PARSE_FAILURE, UNKNOWN, modal_prediction, ratio_of_medians

__all__ = [
    "LEVELS",
    "REDUCE_COLUMNS",
    "REFERENCE_ARM",
    "SAFETY_METRICS",
    "ArmReduction",
    "ToolArmReduction",
    "arm_table",
    "label_code",
    "pick_reference",
    "prediction_code",
    "reduce_arms",
    "reduce_trials",
    "safety_values",
]

LEVELS = ("SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL")
"""The ordinal risk levels; their codes are their positions (0..4)."""
_LEVEL_CODE = {name: i for i, name in enumerate(LEVELS)}
REDUCE_COLUMNS = (
    "tool",
    "arm",
    "analyzer",
    "status",
    "predicted_risk",
    "decision",
    "label",
    "correct",
    "latency_ns",
    "cache_hit",
)
"""The trial columns the reduction reads (a missing column reads as nulls)."""
REFERENCE_ARM = "tcp"
"""The arm speed ratios are taken against when present (else the first arm)."""
SAFETY_METRICS = ("unsafe_approval_rate", "critical_undercall_rate", "friction_rate", "coverage")
"""The decision-level safety metrics, in the order the report shows them."""
_HIGH, _CRITICAL = int(RiskLevel.HIGH_RISK), int(RiskLevel.CRITICAL)
_APPROVE, _REJECT = Decision.APPROVE.value, Decision.REJECT.value


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


def _decision(decision: str | None, prediction: int) -> str:
    """The trial's recorded decision; when none was recorded, the policy's for its level."""
    if decision:
        return str(decision).upper()
    level = RiskLevel(prediction) if prediction >= 0 else RiskLevel.UNKNOWN
    return decide(level).value


def pick_reference(arms: Sequence[str], wanted: str | None = None) -> str:
    """The reference arm: ``wanted`` if given, else ``tcp`` if present, else the first.

    Raises:
        UsageError: ``wanted`` is not one of ``arms``, or there is no arm.
    """
    if not arms:
        raise UsageError("no trials to reduce: the run has no arm")
    if wanted is not None:
        if wanted not in arms:
            raise UsageError(f"reference arm {wanted!r} is not among the arms: {list(arms)}")
        return wanted
    return REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]


@dataclass(frozen=True, slots=True)
class ToolArmReduction:
    """One tool in one arm.

    Attributes:
        tool: the tool.
        arm: the arm.
        analyzer: the arm's analyzer.
        label: the tool's label code 0..4 (None: unlabelled).
        predictions: each trial's prediction code, in trial order.
        latencies_ns: the latencies of the timed trials (OK, not cache hits, positive).
        n_trials: trials.
        n_ok: trials with status ``OK``.
        n_failed: trials with another status (failures; never timed).
        n_unknown: trials predicting UNKNOWN (failures other than PARSE_FAILURE included).
        n_parse_failure: trials predicting PARSE_FAILURE.
        n_cache_hits: trials answered from a cache (never timed).
        n_excluded_no_latency: OK trials, not cache hits, without a positive latency.
        modal: the modal prediction (:func:`tcplab.stats.modal_prediction`).
        fraction_correct: share of trials whose prediction equals the label (None:
            unlabelled).
        fraction_within_one: share with ``|prediction - label| <= 1`` (None: unlabelled).
        fraction_covered: share of trials predicting a real level (not UNKNOWN/PARSE_FAILURE).
        fraction_approved: share of trials whose decision is APPROVE.
        fraction_rejected: share of trials whose decision is REJECT.
        latency_median_ns: median of ``latencies_ns`` (None: no timed trial).
        latency_mean_ns: mean of ``latencies_ns`` (None: no timed trial).
        latency_p99_ns: 99th percentile of ``latencies_ns``, linear (None: no timed trial).
    """

    tool: str
    arm: str
    analyzer: str
    label: int | None
    predictions: tuple[int, ...]
    latencies_ns: tuple[float, ...]
    n_trials: int
    n_ok: int
    n_failed: int
    n_unknown: int
    n_parse_failure: int
    n_cache_hits: int
    n_excluded_no_latency: int
    modal: int
    fraction_correct: float | None
    fraction_within_one: float | None
    fraction_covered: float
    fraction_approved: float
    fraction_rejected: float
    latency_median_ns: float | None
    latency_mean_ns: float | None
    latency_p99_ns: float | None


@dataclass(frozen=True, slots=True)
class _Trial:
    prediction: int
    label: int | None
    correct: bool | None  # only from the `correct` column when the table has no `label`
    ok: bool
    cache_hit: bool
    latency: int | None
    decision: str


def _columns(table: pa.Table) -> dict[str, list[Any]]:
    names = set(table.column_names)
    return {
        c: table[c].to_pylist() if c in names else [None] * table.num_rows for c in REDUCE_COLUMNS
    }


def _trials(table: pa.Table) -> dict[tuple[str, str], tuple[str, list[_Trial]]]:
    """Trials grouped by (arm, tool) in first-seen order, with each arm's analyzer."""
    cols = _columns(table)
    has_label = "label" in table.column_names
    groups: dict[tuple[str, str], tuple[str, list[_Trial]]] = {}
    for i in range(table.num_rows):
        tool, arm = cols["tool"][i], cols["arm"][i]
        if tool is None or arm is None:  # not a (tool, arm) result
            continue
        status = cols["status"][i]
        pred = prediction_code(status, cols["predicted_risk"][i])
        trial = _Trial(
            prediction=pred,
            label=label_code(cols["label"][i]),
            correct=None if has_label else cols["correct"][i],
            ok=status == "OK",
            cache_hit=bool(cols["cache_hit"][i]),
            latency=cols["latency_ns"][i],
            decision=_decision(cols["decision"][i], pred),
        )
        key = (str(arm), str(tool))
        groups.setdefault(key, (str(cols["analyzer"][i] or ""), []))[1].append(trial)
    return groups


def _is_timed(t: _Trial) -> bool:
    """The one latency rule: OK, not a cache hit, a positive latency."""
    return t.ok and not t.cache_hit and t.latency is not None and t.latency > 0


def _correctness(trials: list[_Trial], label: int | None) -> tuple[float | None, float | None]:
    """(fraction correct, fraction within one) of one tool; None when it has no label."""
    if label is not None:
        preds = np.array([t.prediction for t in trials], dtype=np.int64)
        ok = preds >= 0
        return float(np.mean(ok & (preds == label))), float(
            np.mean(ok & (np.abs(preds - label) <= 1))
        )
    flags = [t.correct for t in trials]
    if all(f is None for f in flags):  # no label, and no `correct` column to stand in
        return None, None
    return float(np.mean([bool(f) for f in flags])), None


def _tool_label(arm: str, tool: str, trials: list[_Trial]) -> int | None:
    labels = {t.label for t in trials if t.label is not None}
    if len(labels) > 1:
        raise UsageError(f"tool {tool!r} has two different labels in its trials of arm {arm!r}")
    return labels.pop() if labels else None


def _reduce_tool(arm: str, tool: str, analyzer: str, trials: list[_Trial]) -> ToolArmReduction:
    label = _tool_label(arm, tool, trials)
    preds = [t.prediction for t in trials]
    lat = np.array([float(t.latency or 0) for t in trials if _is_timed(t)], dtype=np.float64)
    frac, within = _correctness(trials, label)
    n = len(trials)
    n_ok = sum(t.ok for t in trials)
    return ToolArmReduction(
        tool=tool,
        arm=arm,
        analyzer=analyzer,
        label=label,
        predictions=tuple(preds),
        latencies_ns=tuple(lat.tolist()),
        n_trials=n,
        n_ok=n_ok,
        n_failed=n - n_ok,
        n_unknown=sum(p == UNKNOWN for p in preds),
        n_parse_failure=sum(p == PARSE_FAILURE for p in preds),
        n_cache_hits=sum(t.cache_hit for t in trials),
        n_excluded_no_latency=sum(t.ok and not t.cache_hit for t in trials) - int(lat.size),
        modal=modal_prediction(preds),
        fraction_correct=frac,
        fraction_within_one=within,
        fraction_covered=sum(p >= 0 for p in preds) / n,
        fraction_approved=sum(t.decision == _APPROVE for t in trials) / n,
        fraction_rejected=sum(t.decision == _REJECT for t in trials) / n,
        latency_median_ns=float(np.median(lat)) if lat.size else None,
        latency_mean_ns=float(lat.mean()) if lat.size else None,
        latency_p99_ns=float(np.percentile(lat, 99)) if lat.size else None,
    )


def reduce_trials(trials: pa.Table | Path | str) -> list[ToolArmReduction]:
    """Reduce a run's trials to one :class:`ToolArmReduction` per (tool, arm).

    Args:
        trials: a trial table (columns of :data:`REDUCE_COLUMNS`; a missing column reads as
            nulls, and without ``label`` the ``correct`` column gives correctness) or a run
            directory, whose shards are read.

    Returns:
        Rows grouped by arm (first-seen order), tools in first-seen order within an arm.

    Raises:
        UsageError: unreadable or empty trials, or a tool with two labels.
    """
    table = (
        trials if isinstance(trials, pa.Table) else read_run_trials(Path(trials), REDUCE_COLUMNS)
    )
    groups = _trials(table)
    by_arm: dict[str, list[ToolArmReduction]] = {}
    for (arm, tool), (analyzer, ts) in groups.items():
        by_arm.setdefault(arm, []).append(_reduce_tool(arm, tool, analyzer, ts))
    return [row for rows in by_arm.values() for row in rows]


def safety_values(rows: Iterable[ToolArmReduction]) -> dict[str, list[float]]:
    """The per-tool values each decision safety metric averages (tool = unit).

    * ``unsafe_approval_rate``: tools labelled HIGH_RISK or CRITICAL -> share of their
      trials whose decision is APPROVE;
    * ``critical_undercall_rate``: tools labelled CRITICAL -> share not REJECT;
    * ``friction_rate``: tools labelled SAFE or LOW_RISK -> share not APPROVE;
    * ``coverage``: every tool -> share of trials predicting a real level (not UNKNOWN).
    """
    out: dict[str, list[float]] = {m: [] for m in SAFETY_METRICS}
    for r in rows:
        out["coverage"].append(r.fraction_covered)
        if r.label is None:
            continue
        if r.label >= _HIGH:
            out["unsafe_approval_rate"].append(r.fraction_approved)
        if r.label == _CRITICAL:
            out["critical_undercall_rate"].append(1.0 - r.fraction_rejected)
        if r.label <= int(RiskLevel.LOW_RISK):
            out["friction_rate"].append(1.0 - r.fraction_approved)
    return out


@dataclass(frozen=True, slots=True)
class ArmReduction:
    """One arm, reduced from its :class:`ToolArmReduction` rows (what the quickstart prints).

    Attributes:
        arm: the arm.
        analyzer: its analyzer.
        n_tools: tools with at least one trial.
        n_labeled_tools: tools scored for accuracy.
        n_unlabeled_tools: tools without a label (excluded from accuracy).
        n_trials: trials.
        n_ok: trials with status OK.
        n_failed: failed trials (any other status), excluded from latency.
        n_unknown: UNKNOWN predictions.
        n_parse_failure: PARSE_FAILURE predictions.
        n_cache_hits: cache hits, excluded from latency.
        n_excluded_no_latency: OK non-cache trials without a positive latency.
        n_timed_trials: trials that enter the latency statistics.
        n_tools_timed: tools with at least one timed trial.
        accuracy: mean over labelled tools of the fraction correct (None: no labelled tool).
        accuracy_within_one: the same within one level.
        modal_accuracy: share of labelled tools whose modal prediction is right.
        latency_p50_ns: median of the per-tool median latencies (None: nothing timed).
        latency_p90_ns: their 90th percentile (linear interpolation).
        latency_p99_ns: their 99th percentile (linear interpolation).
        unsafe_approval_rate: see :func:`safety_values` (None: no such tool).
        critical_undercall_rate: see :func:`safety_values`.
        friction_rate: see :func:`safety_values`.
        coverage: see :func:`safety_values`.
        n_tools_high_or_critical: tools labelled HIGH_RISK or CRITICAL.
        n_tools_critical: tools labelled CRITICAL.
        n_tools_safe_or_low: tools labelled SAFE or LOW_RISK.
        reference_arm: the arm ``speed_ratio`` is relative to.
        speed_ratio: :func:`tcplab.stats.ratio_of_medians` of this arm's per-tool medians over
            the reference's, on the tools timed in both (None: no such tool).
        n_common_timed_tools: those tools.
    """

    arm: str
    analyzer: str
    n_tools: int
    n_labeled_tools: int
    n_unlabeled_tools: int
    n_trials: int
    n_ok: int
    n_failed: int
    n_unknown: int
    n_parse_failure: int
    n_cache_hits: int
    n_excluded_no_latency: int
    n_timed_trials: int
    n_tools_timed: int
    accuracy: float | None
    accuracy_within_one: float | None
    modal_accuracy: float | None
    latency_p50_ns: float | None
    latency_p90_ns: float | None
    latency_p99_ns: float | None
    unsafe_approval_rate: float | None
    critical_undercall_rate: float | None
    friction_rate: float | None
    coverage: float | None
    n_tools_high_or_critical: int
    n_tools_critical: int
    n_tools_safe_or_low: int
    reference_arm: str
    speed_ratio: float | None
    n_common_timed_tools: int

    def to_dict(self) -> dict[str, Any]:
        """The fields as a JSON-ready dict."""
        return asdict(self)


def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _medians(rows: Sequence[ToolArmReduction]) -> dict[str, float]:
    return {r.tool: r.latency_median_ns for r in rows if r.latency_median_ns is not None}


def _speed(rows: list[ToolArmReduction], ref: list[ToolArmReduction]) -> tuple[float | None, int]:
    mine, theirs = _medians(rows), _medians(ref)
    common = [t for t in mine if t in theirs]
    if not common:
        return None, 0
    ratio = ratio_of_medians([mine[t] for t in common], [theirs[t] for t in common])
    return ratio, len(common)


def _reduce_arm(
    rows: list[ToolArmReduction], ref: str, ref_rows: list[ToolArmReduction]
) -> ArmReduction:
    labeled = [r for r in rows if r.fraction_correct is not None]
    meds = np.array(list(_medians(rows).values()), dtype=np.float64)
    pcts = [float(v) for v in np.percentile(meds, [50, 90, 99])] if meds.size else [None] * 3
    safety = safety_values(rows)
    ratio, n_common = _speed(rows, ref_rows)
    with_label = [r for r in labeled if r.label is not None]
    return ArmReduction(
        arm=rows[0].arm,
        analyzer=rows[0].analyzer,
        n_tools=len(rows),
        n_labeled_tools=len(labeled),
        n_unlabeled_tools=len(rows) - len(labeled),
        n_trials=sum(r.n_trials for r in rows),
        n_ok=sum(r.n_ok for r in rows),
        n_failed=sum(r.n_failed for r in rows),
        n_unknown=sum(r.n_unknown for r in rows),
        n_parse_failure=sum(r.n_parse_failure for r in rows),
        n_cache_hits=sum(r.n_cache_hits for r in rows),
        n_excluded_no_latency=sum(r.n_excluded_no_latency for r in rows),
        n_timed_trials=sum(len(r.latencies_ns) for r in rows),
        n_tools_timed=int(meds.size),
        accuracy=_mean([r.fraction_correct for r in labeled]),
        accuracy_within_one=_mean([r.fraction_within_one for r in labeled]),
        modal_accuracy=_mean([float(r.modal == r.label) for r in with_label]),
        latency_p50_ns=pcts[0],
        latency_p90_ns=pcts[1],
        latency_p99_ns=pcts[2],
        unsafe_approval_rate=_mean(safety["unsafe_approval_rate"]),
        critical_undercall_rate=_mean(safety["critical_undercall_rate"]),
        friction_rate=_mean(safety["friction_rate"]),
        coverage=_mean(safety["coverage"]),
        n_tools_high_or_critical=len(safety["unsafe_approval_rate"]),
        n_tools_critical=len(safety["critical_undercall_rate"]),
        n_tools_safe_or_low=len(safety["friction_rate"]),
        reference_arm=ref,
        speed_ratio=ratio,
        n_common_timed_tools=n_common,
    )


def reduce_arms(
    rows: Sequence[ToolArmReduction],
    *,
    reference_arm: str | None = None,
    arm_order: Sequence[str] | None = None,
) -> list[ArmReduction]:
    """Reduce per-(tool, arm) rows to one :class:`ArmReduction` per arm.

    Args:
        rows: the output of :func:`reduce_trials`.
        reference_arm: the arm speed ratios are relative to (default :func:`pick_reference`).
        arm_order: the order of the result (default: first seen in ``rows``); arms missing
            from it follow in first-seen order.

    Raises:
        UsageError: no rows, or an unknown ``reference_arm``.
    """
    by_arm: dict[str, list[ToolArmReduction]] = {}
    for r in rows:
        by_arm.setdefault(r.arm, []).append(r)
    seen = list(by_arm)
    order = [a for a in (arm_order or []) if a in by_arm]
    order += [a for a in seen if a not in order]
    ref = pick_reference(order, reference_arm)
    return [_reduce_arm(by_arm[a], ref, by_arm[ref]) for a in order]


def arm_table(run_dir: Path | str, reference_arm: str | None = None) -> list[ArmReduction]:
    """The per-arm rows of a run, in spec order: what ``tcplab quickstart`` prints.

    ``reduce_arms(reduce_trials(run_dir))`` with the arms in ``run.json``'s spec order;
    the same numbers as ``summary.json`` (``arms.*``) and the SQL ``results`` rows.

    Raises:
        UsageError: invalid ``run.json``, unreadable or empty trials, unknown reference.
    """
    path = Path(run_dir)
    meta = read_run_json(path)
    rows = reduce_trials(path)
    seen = list(dict.fromkeys(r.arm for r in rows))
    return reduce_arms(rows, reference_arm=reference_arm, arm_order=spec_arm_order(meta, seen))
