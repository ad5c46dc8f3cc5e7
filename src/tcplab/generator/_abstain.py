"""Abstention: when a learned generator says UNKNOWN, and how the threshold is chosen.

Decision rule (:func:`decide_levels`) on the five level probabilities of a tool: the level is
the most probable one, and the tool is UNKNOWN (→ REQUIRE_APPROVAL) when

* that level's probability is below ``threshold``, or
* the level would be approved (SAFE or LOW_RISK) while P(HIGH_RISK or CRITICAL) > ``guard``.

:func:`choose_threshold` picks both on out-of-fold probabilities of grouped cross-validation on
the *training* labels only: among the settings whose unsafe-approval rate is ≤ 1 % and whose
exact accuracy on the non-abstained tools is ≥ 0.80, the one with the highest coverage; when
none qualifies, the lowest unsafe-approval rate, then the highest coverage.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Abstention",
    "calibration_error",
    "choose_threshold",
    "coverage_curve",
    "decide_levels",
    "reliability",
    "safety_figures",
]

THRESHOLDS = tuple(float(t) for t in np.round(np.arange(0.0, 0.951, 0.025), 3))
GUARDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0)
MAX_UNSAFE = 0.01
MIN_EXACT = 0.80
HIGH = 3


@dataclass(frozen=True)
class Abstention:
    """A chosen abstention setting and its cross-validated figures."""

    threshold: float
    guard: float
    figures: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"threshold": self.threshold, "guard": self.guard, "cv": self.figures}


def decide_levels(
    probs: npt.NDArray[np.float64], threshold: float, guard: float
) -> npt.NDArray[np.int64]:
    """Level per row (0..4), or -1 = UNKNOWN (see the module docstring)."""
    level = probs.argmax(axis=1)
    conf = probs.max(axis=1)
    danger = probs[:, HIGH:].sum(axis=1)
    unknown = (conf < threshold) | ((level <= 1) & (danger > guard))
    return np.where(unknown, -1, level).astype(np.int64)


def safety_figures(y: npt.NDArray[np.int64], pred: npt.NDArray[np.int64]) -> dict[str, float]:
    """Point figures: unsafe approvals, critical under-calls, friction, coverage, accuracy.

    Same definitions as ``tcplab.generator.decision_safety`` (APPROVE = SAFE/LOW_RISK,
    REJECT = CRITICAL); exact/within-one are over the non-abstained tools.
    """
    approve = (pred >= 0) & (pred <= 1)
    covered = pred >= 0
    danger, crit, benign = y >= HIGH, y == 4, y <= 1

    def rate(mask: npt.NDArray[np.bool_], hit: npt.NDArray[np.bool_]) -> float:
        return float(hit[mask].mean()) if mask.any() else float("nan")

    return {
        "unsafe_approval_rate": rate(danger, approve),
        "critical_undercall_rate": rate(crit, pred != 4),
        "friction_rate": rate(benign, ~approve),
        "coverage": float(covered.mean()) if len(y) else float("nan"),
        "exact_covered": rate(covered, pred == y),
        "within_one_covered": rate(covered, np.abs(pred - y) <= 1),
        "exact_all": rate(np.ones_like(covered), pred == y),
    }


def choose_threshold(
    y: npt.NDArray[np.int64], oof: npt.NDArray[np.float64], fixed: float | None = None
) -> Abstention:
    """The abstention setting for out-of-fold probabilities ``oof`` (rows: tools)."""
    best: tuple[tuple[float, ...], float, float, dict[str, float]] | None = None
    for t in (fixed,) if fixed is not None else THRESHOLDS:
        for g in GUARDS:
            fig = safety_figures(y, decide_levels(oof, t, g))
            ok = fig["unsafe_approval_rate"] <= MAX_UNSAFE and fig["exact_covered"] >= MIN_EXACT
            unsafe = 0.0 if ok else fig["unsafe_approval_rate"]
            key = (float(ok), -unsafe, fig["coverage"], -t, g)
            if best is None or key > best[0]:
                best = (key, t, g, fig)
    assert best is not None
    return Abstention(threshold=best[1], guard=best[2], figures=best[3])


def calibration_error(
    y: npt.NDArray[np.int64], probs: npt.NDArray[np.float64], bins: int = 10
) -> dict[str, float]:
    """Expected calibration error of the top-level confidence and the multiclass Brier score."""
    conf = probs.max(axis=1)
    hit = (probs.argmax(axis=1) == y).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    ece = 0.0
    for lo, hi in itertools.pairwise(edges):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            ece += float(m.mean()) * abs(float(hit[m].mean()) - float(conf[m].mean()))
    onehot = np.eye(probs.shape[1])[y]
    brier = float(((probs - onehot) ** 2).sum(axis=1).mean())
    return {"ece": ece, "brier": brier, "mean_confidence": float(conf.mean()),
            "accuracy": float(hit.mean())}  # fmt: skip


def reliability(
    y: npt.NDArray[np.int64], probs: npt.NDArray[np.float64], bins: int = 10
) -> list[dict[str, float]]:
    """The reliability diagram of the top-level confidence: per equal-width bin of confidence
    (``lo`` < conf ≤ ``hi``), the tools in it (``n``), their mean ``confidence`` and the share
    whose most probable level is the label (``accuracy``); empty bins are left out. Same bins
    as :func:`calibration_error`."""
    conf = probs.max(axis=1)
    hit = (probs.argmax(axis=1) == y).astype(np.float64)
    out: list[dict[str, float]] = []
    for lo, hi in itertools.pairwise(np.linspace(0.0, 1.0, bins + 1)):
        m = (conf > lo) & (conf <= hi)
        if m.any():
            c, a = float(conf[m].mean()), float(hit[m].mean())
            out.append({"lo": float(lo), "hi": float(hi), "n": float(m.sum()),
                        "confidence": c, "accuracy": a})  # fmt: skip
    return out


def coverage_curve(
    y_true: list[int], y_pred: list[int], confidence: list[float], points: int = 10
) -> list[dict[str, float]]:
    """Accuracy among the most confident tools at each coverage (the abstention trade-off).

    Tools are sorted by decreasing ``confidence``; at coverage c the first ``ceil(c·n)`` are
    kept. Tools predicted UNKNOWN sort last (confidence −1). Each point: ``coverage``, ``n``,
    ``exact`` and ``within_one`` over the kept tools.
    """
    n = len(y_true)
    if n == 0:
        return []
    conf = [c if p >= 0 else -1.0 for p, c in zip(y_pred, confidence, strict=True)]
    order = sorted(range(n), key=lambda i: -conf[i])
    out: list[dict[str, float]] = []
    for k in range(1, points + 1):
        m = max(1, -(-k * n // points))
        kept = order[:m]
        exact = sum(y_pred[i] == y_true[i] for i in kept) / m
        within = sum(y_pred[i] >= 0 and abs(y_pred[i] - y_true[i]) <= 1 for i in kept) / m
        out.append({"coverage": m / n, "n": float(m), "exact": exact, "within_one": within})
    return out
