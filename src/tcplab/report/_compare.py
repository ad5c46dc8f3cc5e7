"""Compare the same arm across two runs (regression detection for CI gates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcplab.errors import UsageError
from tcplab.report._arms import ArmTools, reduce_arm
from tcplab.report._common import ReportSettings, ci_dict, clean_json, guarded
from tcplab.report._data import load_run
from tcplab.report._summary import run_location
from tcplab.stats import mean_ci, median_ratio_ci, paired_accuracy_difference

__all__ = ["COMPARE_SCHEMA_VERSION", "compare_runs"]

COMPARE_SCHEMA_VERSION = 1
"""Version of the JSON written by ``tcplab compare --json`` (see ``docs/report.md``)."""


def _latency(a: ArmTools, b: ArmTools, threshold: float, s: ReportSettings) -> dict[str, Any]:
    common = [t for t in a.medians if t in b.medians]

    def ratio() -> dict[str, Any]:
        res = median_ratio_ci(
            {t: [b.medians[t]] for t in common},
            {t: [a.medians[t]] for t in common},
            paired=True,
            n_resamples=s.n_resamples,
            method="bca" if s.method == "bca" else "percentile",
            confidence=s.confidence,
            seed=s.seed,
        )
        within_noise = abs(res.ratio - 1.0) <= threshold
        if not res.significant:
            verdict, why = "not significant", "the CI covers 1"
        elif within_noise:
            verdict, why = "not significant", f"the change is within +/-{threshold:.0%} noise"
        else:
            verdict = "slower" if res.ratio > 1 else "faster"
            why = f"CI excludes 1 and the change exceeds {threshold:.0%}"
        return {
            "estimate": res.ratio,
            "ci": [res.low, res.high],
            "confidence": res.log_ci.confidence,
            "n_resamples": res.log_ci.n_resamples,
            "ci_excludes_1": res.significant,
            "within_noise": within_noise,
            "significant": verdict != "not significant",
            "verdict": verdict,
            "reason": why,
        }

    def difference() -> dict[str, Any]:  # in ms: comparable with the network RTT of each run
        res = mean_ci(
            [(b.medians[t] - a.medians[t]) / 1e6 for t in common],
            n_resamples=s.n_resamples,
            method="bca" if s.method == "bca" else "percentile",
            confidence=s.confidence,
            seed=s.seed,
        )
        return ci_dict(res, exclude=0.0)

    return {
        "n_common_timed_tools": len(common),
        "ratio_b_over_a": guarded(ratio),
        "difference_ms_b_minus_a": guarded(difference),
    }


def _accuracy(a: ArmTools, b: ArmTools, s: ReportSettings) -> dict[str, Any]:
    common = [t for t in a.fraction_correct if t in b.fraction_correct]

    def diff() -> dict[str, Any]:
        res = paired_accuracy_difference(
            [b.fraction_correct[t] for t in common],
            [a.fraction_correct[t] for t in common],
            n_resamples=s.n_resamples,
            method="bca" if s.method == "bca" else "percentile",
            confidence=s.confidence,
            seed=s.seed,
        )
        out = ci_dict(res, exclude=0.0)
        if out["significant"]:
            out["verdict"] = "better" if res.estimate > 0 else "worse"
        return out

    return {"n_common_labeled_tools": len(common), "difference_b_minus_a": guarded(diff)}


def _where(meta: dict[str, Any]) -> dict[str, Any]:
    loc = run_location(meta)
    return {k: loc[k] for k in ("region", "provider", "network_rtt_ms")}


def compare_runs(
    run_a: Path,
    run_b: Path,
    *,
    arm: str | None = None,
    threshold: float = 0.05,
    settings: ReportSettings | None = None,
) -> dict[str, Any]:
    """Compare arm(s) of run B (new) with the same arm(s) of run A (baseline).

    Method: per-tool median latencies of the timed trials (failures and cache hits
    excluded) of the tools timed in both runs; the ratio of their medians B/A with a
    paired tool-level bootstrap CI on the log scale. The verdict is "slower"/"faster" only
    when the CI excludes 1 *and* the ratio is outside ``1 +/- threshold``; otherwise "not
    significant". Accuracy: the paired bootstrap CI of the difference in accuracy_exact
    (B - A) over the labelled tools common to both runs.

    Args:
        run_a: baseline run directory.
        run_b: new run directory.
        arm: the arm to compare (default: every arm present in both runs).
        threshold: noise threshold on the ratio (default 0.05 = +/-5%).
        settings: bootstrap settings.

    Returns:
        A JSON-ready dict (``compare_schema_version``; see ``docs/report.md``) with
        ``regression`` true when any compared arm is significantly slower.

    Raises:
        UsageError: no common arm, an unknown ``arm``, or a negative threshold.
    """
    s = settings or ReportSettings()
    if not threshold >= 0:
        raise UsageError(f"threshold must be >= 0 (got {threshold})")
    da, db = load_run(run_a), load_run(run_b)
    common = [a for a in da.arms if a in db.arms]
    if arm is not None:
        if arm not in common:
            raise UsageError(
                f"arm {arm!r} is not in both runs (A: {list(da.arms)}, B: {list(db.arms)})"
            )
        common = [arm]
    if not common:
        raise UsageError(f"the runs share no arm (A: {list(da.arms)}, B: {list(db.arms)})")
    arms: dict[str, Any] = {}
    for name in common:
        ra = reduce_arm(da.arms[name])
        rb = reduce_arm(db.arms[name])
        arms[name] = {
            "latency": _latency(ra, rb, threshold, s),
            "accuracy": _accuracy(ra, rb, s),
        }
    slower = [
        n for n, v in arms.items() if v["latency"]["ratio_b_over_a"].get("verdict") == "slower"
    ]
    out = {
        "compare_schema_version": COMPARE_SCHEMA_VERSION,
        "run_a": {"run_id": da.meta.get("run_id"), "path": str(run_a), **_where(da.meta)},
        "run_b": {"run_id": db.meta.get("run_id"), "path": str(run_b), **_where(db.meta)},
        "regions_differ": da.meta.get("region") != db.meta.get("region"),
        "threshold": threshold,
        "settings": s.to_dict(),
        "arms": arms,
        "regression": bool(slower),
        "slower_arms": slower,
    }
    result: dict[str, Any] = clean_json(out)
    return result
