"""Pairwise comparison of arms on their common tools, with Holm control across the report."""

from __future__ import annotations

from typing import Any

from tcplab.report._arms import ArmTools
from tcplab.report._common import ReportSettings, ci_dict, guarded, verdict
from tcplab.stats import (
    PARSE_FAILURE,
    UNKNOWN,
    MedianRatioResult,
    arm_agreement,
    cliffs_delta,
    hedges_g,
    holm,
    mann_whitney_u,
    mcnemar,
    median_ratio_ci,
    paired_accuracy_difference,
    tost_equivalence,
    welch_log_ttest,
)

__all__ = ["HOLM_TESTS", "apply_holm", "pair_summary", "ratio_dict"]

HOLM_TESTS = ("welch_log", "mann_whitney", "mcnemar")
"""The p-value tests of each pair; all of them, over all pairs, form one Holm family."""
_AGREEMENT_LABELS = [PARSE_FAILURE, UNKNOWN, 0, 1, 2, 3, 4]


def ratio_dict(res: MedianRatioResult, a: str, b: str) -> dict[str, Any]:
    """A ratio-of-medians result as a dict with a verdict in words."""
    if res.significant:
        word = "slower" if res.ratio > 1 else "faster"
        text = f"significant: {a} is {res.ratio:.3g}x the latency of {b} ({word})"
    else:
        text = "not significant (the CI covers 1)"
    return {
        "estimate": res.ratio,
        "ci": [res.low, res.high],
        "confidence": res.log_ci.confidence,
        "method": res.log_ci.method,
        "n_resamples": res.log_ci.n_resamples,
        "n_tools": res.log_ci.n_clusters,
        "paired": res.paired,
        "significant": res.significant,
        "verdict": text,
    }


def _latency_tests(a: ArmTools, b: ArmTools, names: tuple[str, str], s: ReportSettings) -> Any:
    common = [t for t in a.medians if t in b.medians]
    la = {t: [a.medians[t]] for t in common}
    lb = {t: [b.medians[t]] for t in common}
    ma = [a.medians[t] for t in common]
    mb = [b.medians[t] for t in common]

    def ratio() -> dict[str, Any]:
        res = median_ratio_ci(
            la,
            lb,
            paired=True,
            n_resamples=s.n_resamples,
            method="bca" if s.method == "bca" else "percentile",
            confidence=s.confidence,
            seed=s.seed,
        )
        return ratio_dict(res, *names)

    def welch() -> dict[str, Any]:
        w = welch_log_ttest(ma, mb, alpha=s.alpha)
        return {
            "statistic": w.statistic,
            "df": w.df,
            "p_value": w.p_value,
            "geometric_mean_ratio": w.ratio,
            "ci": [w.ratio_low, w.ratio_high],
            "significant": w.significant,
            "verdict": verdict(w.significant),
        }

    def mann() -> dict[str, Any]:
        m = mann_whitney_u(ma, mb, alpha=s.alpha)
        return {
            "statistic": m.statistic,
            "p_value": m.p_value,
            "method": m.method,
            "significant": m.significant,
            "verdict": verdict(m.significant),
        }

    return {
        "n_common_timed_tools": len(common),
        "ratio_of_medians": guarded(ratio),
        "welch_log": guarded(welch),
        "mann_whitney": guarded(mann),
        "hedges_g": guarded(lambda: hedges_g(ma, mb)),
        "cliffs_delta": guarded(lambda: cliffs_delta(ma, mb)),
    }


def _accuracy_tests(
    a: ArmTools, b: ArmTools, labels: dict[str, int], s: ReportSettings
) -> dict[str, Any]:
    common = [t for t in a.fraction_correct if t in b.fraction_correct]
    fa = [a.fraction_correct[t] for t in common]
    fb = [b.fraction_correct[t] for t in common]
    boot: dict[str, Any] = {
        "n_resamples": s.n_resamples,
        "method": "bca" if s.method == "bca" else "percentile",
        "seed": s.seed,
    }

    def mcn() -> dict[str, Any]:
        # McNemar needs right/wrong per tool: the tool's modal prediction is right or not.
        ca = [a.modal[t] == labels[t] for t in common]
        cb = [b.modal[t] == labels[t] for t in common]
        m = mcnemar(ca, cb, alpha=s.alpha)
        return {
            "a_only": m.a_only,
            "b_only": m.b_only,
            "statistic": m.statistic,
            "method": m.method,
            "p_value": m.p_value,
            "significant": m.significant,
            "verdict": verdict(m.significant),
        }

    def diff() -> dict[str, Any]:
        res = paired_accuracy_difference(fa, fb, confidence=s.confidence, **boot)
        return ci_dict(res, exclude=0.0)

    def tost() -> dict[str, Any]:
        t = tost_equivalence(fa, fb, margin=s.tost_margin, alpha=s.alpha, **boot)
        return {
            "difference": t.difference,
            "ci": [t.low, t.high],
            "confidence": t.ci.confidence,
            "margin": t.margin,
            "equivalent": t.equivalent,
            "verdict": "equivalent" if t.equivalent else "equivalence not shown",
        }

    return {
        "n_common_labeled_tools": len(common),
        "mcnemar": guarded(mcn),
        "accuracy_difference": guarded(diff),
        "tost": guarded(tost),
    }


def pair_summary(
    names: tuple[str, str],
    a: ArmTools,
    b: ArmTools,
    labels: dict[str, int],
    s: ReportSettings,
) -> dict[str, Any]:
    """Every statistic comparing arm ``names[0]`` (A) with arm ``names[1]`` (B).

    Latency tests use per-tool medians of the tools timed in both arms; accuracy tests use
    the tools labelled and run in both arms; agreement uses every common tool's modal label.
    """
    lat = _latency_tests(a, b, names, s)
    acc = _accuracy_tests(a, b, labels, s)
    common = [t for t in a.modal if t in b.modal]

    def agree() -> dict[str, Any]:
        ag = arm_agreement(
            [a.modal[t] for t in common], [b.modal[t] for t in common], labels=_AGREEMENT_LABELS
        )
        return {
            "n_tools": ag.n,
            "raw_agreement": ag.raw_agreement,
            "kappa": ag.kappa,
            "kappa_quadratic": ag.kappa_quadratic,
        }

    mc = acc["mcnemar"]
    return {
        "a": names[0],
        "b": names[1],
        "n_common_tools": len(common),
        **lat,
        **acc,
        "mcnemar_p": mc.get("p_value") if isinstance(mc, dict) else None,
        "agreement": guarded(agree),
    }


def apply_holm(pairs: list[dict[str, Any]], alpha: float) -> dict[str, Any]:
    """Holm-adjust every p-value of ``pairs`` (the tests in :data:`HOLM_TESTS`) as one family.

    Adds ``p_holm``, ``significant_holm`` and ``verdict_holm`` to each test (and
    ``mcnemar_p_holm`` to each pair) and returns the family's description.
    """
    slots = [
        (pair, test)
        for pair in pairs
        for test in HOLM_TESTS
        if isinstance(pair[test], dict) and pair[test].get("p_value") is not None
    ]
    adjusted: list[float] = (
        holm([pair[test]["p_value"] for pair, test in slots]).tolist() if slots else []
    )
    family = []
    for (pair, test), p_adj in zip(slots, adjusted, strict=True):
        sig = bool(p_adj < alpha)
        pair[test].update(p_holm=float(p_adj), significant_holm=sig, verdict_holm=verdict(sig))
        family.append(
            {
                "a": pair["a"],
                "b": pair["b"],
                "test": test,
                "p_value": pair[test]["p_value"],
                "p_holm": float(p_adj),
                "significant_holm": sig,
            }
        )
    for pair in pairs:
        mc = pair["mcnemar"]
        pair["mcnemar_p_holm"] = mc.get("p_holm") if isinstance(mc, dict) else None
    return {"method": "holm", "alpha": alpha, "family_size": len(family), "tests": family}
