"""Per-arm statistics: accuracy, failures, latency, variability and cost, per tool first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tcplab.report._common import ReportSettings, ci_dict, guarded
from tcplab.report._data import LEVELS, ArmData
from tcplab.stats import (
    PARSE_FAILURE,
    UNKNOWN,
    accuracy_report,
    confusion_matrix,
    cost_per_decision,
    cpu_cost,
    describe,
    modal_prediction,
    per_tool_accuracy,
    per_tool_medians,
)

__all__ = ["CONFUSION_COLUMNS", "ArmTools", "arm_summary", "reduce_arm"]

CONFUSION_COLUMNS = (*LEVELS, "UNKNOWN", "PARSE_FAILURE")
_CONFUSION_CODES = [0, 1, 2, 3, 4, UNKNOWN, PARSE_FAILURE]


@dataclass(frozen=True)
class ArmTools:
    """One arm reduced to one value per tool.

    Attributes:
        modal: tool -> modal prediction over its iterations (ties to the more severe level).
        fraction_correct: labelled tool -> fraction of its trials that are right.
        medians: timed tool -> median latency (ns) of its non-cache trials.
    """

    modal: dict[str, int]
    fraction_correct: dict[str, float]
    medians: dict[str, float]


def reduce_arm(arm: ArmData, labels: dict[str, int]) -> ArmTools:
    """Per-tool modal predictions, fractions correct and median latencies of ``arm``."""
    modal = {t: modal_prediction(p) for t, p in arm.preds.items()}
    labeled = [(t, labels[t], p) for t, ps in arm.preds.items() if t in labels for p in ps]
    frac: dict[str, float] = {}
    if labeled:
        pta = per_tool_accuracy(labeled)
        frac = {str(t): float(f) for t, f in zip(pta.tools, pta.fraction_correct, strict=True)}
    timed = arm.timed_tools()
    medians: dict[str, float] = {}
    if timed:
        meds = per_tool_medians(timed)
        medians = {t: float(m) for t, m in zip(timed, meds, strict=True)}
    return ArmTools(modal, frac, medians)


def _accuracy(
    arm: ArmData, red: ArmTools, labels: dict[str, int], s: ReportSettings
) -> dict[str, Any]:
    tools = [t for t in arm.preds if t in labels]
    if not tools:
        missing = {"available": False, "reason": "no labelled tools in this arm"}
        return {k: missing for k in ("accuracy_exact", "kappa_quadratic", "confusion")}
    opts: dict[str, Any] = {
        "n_resamples": s.n_resamples,
        "method": s.method,
        "confidence": s.confidence,
        "seed": s.seed,
    }
    y_true = [labels[t] for t in tools for _ in arm.preds[t]]
    y_pred = [p for t in tools for p in arm.preds[t]]
    by_trial = [t for t in tools for _ in arm.preds[t]]
    point = float(np.mean([red.fraction_correct[t] for t in tools]))
    trial_rep = guarded(lambda: accuracy_report(y_true, y_pred, tools=by_trial, **opts))
    modal_true = [labels[t] for t in tools]
    modal_pred = [red.modal[t] for t in tools]
    modal_rep = guarded(lambda: accuracy_report(modal_true, modal_pred, tools=tools, **opts))
    out: dict[str, Any] = {}
    if isinstance(trial_rep, dict):
        out["accuracy_exact"] = {"estimate": point, "ci": None, **trial_rep}
        out["accuracy_within_one"] = trial_rep
    else:
        out["accuracy_exact"] = ci_dict(trial_rep.accuracy_exact, exclude=None)
        out["accuracy_within_one"] = ci_dict(trial_rep.accuracy_within_one, exclude=None)
    for name in ("kappa", "kappa_quadratic", "macro_f1", "mcc"):
        out[name] = (
            modal_rep
            if isinstance(modal_rep, dict)
            else ci_dict(getattr(modal_rep, name), exclude=None)
        )
    out["modal_accuracy"] = float(np.mean(np.array(modal_pred) == np.array(modal_true)))
    conf = confusion_matrix(modal_true, modal_pred, _CONFUSION_CODES)[: len(LEVELS)]
    out["confusion"] = {
        "rows": list(LEVELS),
        "columns": list(CONFUSION_COLUMNS),
        "counts": conf.tolist(),
        "unit": "tools (modal prediction)",
    }
    return out


def _failures(arm: ArmData) -> dict[str, Any]:
    codes = np.array([p for ps in arm.preds.values() for p in ps], dtype=np.int64)
    n_unknown = int(np.sum(codes == UNKNOWN))
    n_parse = int(np.sum(codes == PARSE_FAILURE))
    return {
        "by_status": dict(sorted(arm.status_counts.items())),
        "n_failed": int(sum(n for st, n in arm.status_counts.items() if st != "OK")),
        "n_unknown": n_unknown,
        "n_parse_failure": n_parse,
        "unknown_rate": n_unknown / arm.n_trials,
        "parse_failure_rate": n_parse / arm.n_trials,
    }


def _latency(arm: ArmData, red: ArmTools) -> dict[str, Any]:
    base: dict[str, Any] = {
        "unit": "per-tool median, ns",
        "batch_means": arm.micro,
        "n_cache_hits": arm.n_cache_hits,
        "n_excluded_no_latency": arm.n_latency_excluded,
    }
    if not red.medians:
        return {**base, "available": False, "reason": "no trial with a usable latency"}
    d = describe(list(red.medians.values()))
    trials = np.concatenate([np.asarray(v) for v in arm.timed_tools().values()])
    t50, t99 = (float(v) for v in np.percentile(trials, [50, 99]))
    return {
        **base,
        "n_tools": d.n,
        "p50": d.p50,
        "p90": d.p90,
        "p99": d.p99,
        "mean": d.mean,
        "sd": d.sd,
        "mad": d.mad,
        "min": d.min,
        "max": d.max,
        "warnings": list(d.warnings),
        "trial_level": {"n": int(trials.size), "p50": t50, "p99": t99},
    }


def _variability(arm: ArmData) -> dict[str, Any]:
    repeated = [ps for ps in arm.preds.values() if len(ps) > 1]
    varying = sum(len(set(ps)) > 1 for ps in repeated)
    cvs = np.array(
        [np.std(v, ddof=1) / np.mean(v) for v in arm.latencies.values() if len(v) > 1],
        dtype=np.float64,
    )
    return {
        "n_tools_repeated": len(repeated),
        "n_tools_varying": varying,
        "fraction_varying": varying / len(repeated) if repeated else None,
        "n_tools_latency_cv": int(cvs.size),
        "latency_cv_median": float(np.median(cvs)) if cvs.size else None,
        "latency_cv_p90": float(np.percentile(cvs, 90)) if cvs.size else None,
    }


def _cost(arm: ArmData, red: ArmTools, labels: dict[str, int], s: ReportSettings) -> dict[str, Any]:
    labeled = [t for t in arm.preds if t in labels]
    n_lab_trials = sum(len(arm.preds[t]) for t in labeled)
    n_correct = sum(sum(p == labels[t] for p in arm.preds[t]) for t in labeled)
    cpu_seconds = arm.latency_sum_ns / 1e9
    if arm.llm_priced:
        basis, total = "reported cost_usd", float(arm.cost_reported_usd or 0.0)
        total_labeled = arm.cost_reported_labeled_usd
    else:
        basis = "cpu_seconds x usd_per_core_hour"
        total = cpu_cost(cpu_seconds, s.usd_per_core_hour)
        total_labeled = cpu_cost(arm.latency_sum_labeled_ns / 1e9, s.usd_per_core_hour)
    per_correct = (
        cost_per_decision(total_labeled, n_lab_trials, n_correct).per_correct_decision
        if n_lab_trials
        else None
    )
    return {
        "basis": basis,
        "total_usd": total,
        "cpu_seconds": cpu_seconds,
        "usd_per_core_hour": None if arm.llm_priced else s.usd_per_core_hour,
        "n_decisions": arm.n_trials,
        "n_correct": n_correct,
        "per_decision_usd": cost_per_decision(total, arm.n_trials, 0).per_decision,
        "per_correct_decision_usd": per_correct,
    }


def arm_summary(
    arm: ArmData, red: ArmTools, labels: dict[str, int], s: ReportSettings
) -> dict[str, Any]:
    """Every per-arm statistic of ``summary.json`` (see ``docs/report.md``)."""
    n_lab = sum(t in labels for t in arm.preds)
    return {
        "name": arm.name,
        "analyzer": arm.analyzer,
        "timing_modes": sorted(arm.timing_modes),
        "latency_is_batch_mean": arm.micro,
        "n_tools": len(arm.preds),
        "n_trials": arm.n_trials,
        "n_labeled_tools": n_lab,
        "n_unlabeled_tools": len(arm.preds) - n_lab,
        **_accuracy(arm, red, labels, s),
        "failures": _failures(arm),
        "latency_ns": _latency(arm, red),
        "variability": _variability(arm),
        "cost": _cost(arm, red, labels, s),
    }
