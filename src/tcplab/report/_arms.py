"""Per-arm statistics: accuracy, decision safety, failures, latency, variability and cost.

Point estimates come from the run's one reduction (:mod:`tcplab.report.reduce`); this module
adds the confidence intervals and the descriptive detail around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tcplab.report._common import ReportSettings, ci_dict, guarded
from tcplab.report._data import LEVELS, ArmData
from tcplab.report.reduce import SAFETY_METRICS, ArmReduction, safety_values
from tcplab.stats import (
    PARSE_FAILURE,
    UNKNOWN,
    accuracy_report,
    confusion_matrix,
    cost_per_decision,
    cpu_cost,
    describe,
    mean_ci,
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


def reduce_arm(arm: ArmData) -> ArmTools:
    """Per-tool modal predictions, fractions correct and median latencies of ``arm``, taken
    from its :class:`~tcplab.report.reduce.ToolArmReduction` rows."""
    tools = arm.tools.values()
    return ArmTools(
        modal={r.tool: r.modal for r in tools},
        fraction_correct={
            r.tool: r.fraction_correct for r in tools if r.fraction_correct is not None
        },
        medians={r.tool: r.latency_median_ns for r in tools if r.latency_median_ns is not None},
    )


def _boot_opts(s: ReportSettings) -> dict[str, Any]:
    return {
        "n_resamples": s.n_resamples,
        "method": s.method,
        "confidence": s.confidence,
        "seed": s.seed,
    }


def _modal_metrics(
    out: dict[str, Any], tools: list[str], red: ArmTools, labels: dict[str, int], rep: Any
) -> None:
    for name in ("kappa", "kappa_quadratic", "macro_f1", "mcc"):
        out[name] = rep if isinstance(rep, dict) else ci_dict(getattr(rep, name), exclude=None)
    modal_true = [labels[t] for t in tools]
    modal_pred = [red.modal[t] for t in tools]
    conf = confusion_matrix(modal_true, modal_pred, _CONFUSION_CODES)[: len(LEVELS)]
    out["confusion"] = {
        "rows": list(LEVELS),
        "columns": list(CONFUSION_COLUMNS),
        "counts": conf.tolist(),
        "unit": "tools (modal prediction)",
    }


def _accuracy(
    arm: ArmData, red: ArmTools, agg: ArmReduction, labels: dict[str, int], s: ReportSettings
) -> dict[str, Any]:
    tools = [t for t in arm.tools if t in labels]
    if not tools:
        missing = {"available": False, "reason": "no labelled tools in this arm"}
        return {k: missing for k in ("accuracy_exact", "kappa_quadratic", "confusion")}
    opts = _boot_opts(s)
    preds = arm.preds
    y_true = [labels[t] for t in tools for _ in preds[t]]
    y_pred = [p for t in tools for p in preds[t]]
    by_trial = [t for t in tools for _ in preds[t]]
    trial_rep = guarded(lambda: accuracy_report(y_true, y_pred, tools=by_trial, **opts))
    modal_true = [labels[t] for t in tools]
    modal_pred = [red.modal[t] for t in tools]
    modal_rep = guarded(lambda: accuracy_report(modal_true, modal_pred, tools=tools, **opts))
    out: dict[str, Any] = {}
    if isinstance(trial_rep, dict):
        out["accuracy_exact"] = {"estimate": agg.accuracy, "ci": None, **trial_rep}
        out["accuracy_within_one"] = {"estimate": agg.accuracy_within_one, **trial_rep}
    else:  # the point estimates are the reduction's (the same means over tools)
        exact = ci_dict(trial_rep.accuracy_exact, exclude=None)
        within = ci_dict(trial_rep.accuracy_within_one, exclude=None)
        out["accuracy_exact"] = {**exact, "estimate": agg.accuracy}
        out["accuracy_within_one"] = {**within, "estimate": agg.accuracy_within_one}
    _modal_metrics(out, tools, red, labels, modal_rep)
    out["modal_accuracy"] = agg.modal_accuracy
    return out


_SAFETY_UNITS = {
    "unsafe_approval_rate": "tools labelled HIGH_RISK or CRITICAL",
    "critical_undercall_rate": "tools labelled CRITICAL",
    "friction_rate": "tools labelled SAFE or LOW_RISK",
    "coverage": "all tools",
}


def _safety_entry(name: str, vals: list[float], point: float | None, s: ReportSettings) -> Any:
    base = {"estimate": point, "n_tools": len(vals), "unit": _SAFETY_UNITS[name]}
    if point is None:
        return {**base, "ci": None, "available": False, "reason": f"no {base['unit']}"}
    res = guarded(lambda: mean_ci(vals, **_boot_opts(s)))
    if isinstance(res, dict):  # one tool: the rate, but no interval
        return {**base, "ci": None, **res}
    return {**ci_dict(res, exclude=None), **base}


def _safety(arm: ArmData, agg: ArmReduction, s: ReportSettings) -> dict[str, Any]:
    """Decision safety rates (point estimates from the reduction) with tool-level CIs."""
    values = safety_values(arm.tools.values())
    return {m: _safety_entry(m, values[m], getattr(agg, m), s) for m in SAFETY_METRICS}


def _failures(arm: ArmData, agg: ArmReduction) -> dict[str, Any]:
    return {
        "by_status": dict(sorted(arm.status_counts.items())),
        "n_failed": agg.n_failed,
        "n_unknown": agg.n_unknown,
        "n_parse_failure": agg.n_parse_failure,
        "unknown_rate": agg.n_unknown / agg.n_trials,
        "parse_failure_rate": agg.n_parse_failure / agg.n_trials,
    }


def _latency(arm: ArmData, red: ArmTools, agg: ArmReduction) -> dict[str, Any]:
    base: dict[str, Any] = {
        "unit": "per-tool median, ns",
        "batch_means": arm.micro,
        "n_failed_excluded": agg.n_failed,
        "n_cache_hits": agg.n_cache_hits,
        "n_excluded_no_latency": agg.n_excluded_no_latency,
        "n_tools": agg.n_tools_timed,
        "p50": agg.latency_p50_ns,
        "p90": agg.latency_p90_ns,
        "p99": agg.latency_p99_ns,
    }
    if not red.medians:
        return {**base, "available": False, "reason": "no OK trial with a usable latency"}
    d = describe(list(red.medians.values()))
    trials = np.concatenate([np.asarray(v) for v in arm.timed_tools().values()])
    t50, t99 = (float(v) for v in np.percentile(trials, [50, 99]))
    return {
        **base,
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


def _cost(arm: ArmData, labels: dict[str, int], s: ReportSettings) -> dict[str, Any]:
    preds = arm.preds
    labeled = [t for t in preds if t in labels]
    n_lab_trials = sum(len(preds[t]) for t in labeled)
    n_correct = sum(sum(p == labels[t] for p in preds[t]) for t in labeled)
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
    arm: ArmData, red: ArmTools, agg: ArmReduction, labels: dict[str, int], s: ReportSettings
) -> dict[str, Any]:
    """Every per-arm statistic of ``summary.json`` (see ``docs/report.md``)."""
    return {
        "name": arm.name,
        "analyzer": arm.analyzer,
        "timing_modes": sorted(arm.timing_modes),
        "latency_is_batch_mean": arm.micro,
        "n_tools": agg.n_tools,
        "n_trials": agg.n_trials,
        "n_labeled_tools": agg.n_labeled_tools,
        "n_unlabeled_tools": agg.n_unlabeled_tools,
        "safety": _safety(arm, agg, s),
        **_accuracy(arm, red, agg, labels, s),
        "failures": _failures(arm, agg),
        "latency_ns": _latency(arm, red, agg),
        "variability": _variability(arm),
        "cost": _cost(arm, labels, s),
    }
