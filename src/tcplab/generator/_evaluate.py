"""Evaluate a registry against ground-truth labels (exact, within-one, QWK, per class).

Definitions (see ``docs/rules.md``): each labeled tool counts once. A tool missing from the
registry, or whose descriptor decodes as UNKNOWN, is a wrong prediction for exact and
within-one accuracy and is counted separately; quadratic-weighted κ is computed over the tools
with a known predicted level (and that number is reported with it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tcplab.descriptor import Decision, RiskLevel, decide
from tcplab.generator._abstain import coverage_curve
from tcplab.labels import LabelSet, Split
from tcplab.registry import Registry
from tcplab.stats import cohen_kappa, confusion_matrix

__all__ = ["SAFETY_METRICS", "Evaluation", "decision_safety", "evaluate_registry"]

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
PRED_LEVELS = [*LEVELS, RiskLevel.UNKNOWN]


@dataclass(frozen=True)
class Evaluation:
    """Accuracy of a registry on one split of a label set."""

    split: str
    n: int
    exact: float
    within_one: float
    kappa_quadratic: float
    n_kappa: int
    n_unknown: int
    n_missing: int
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]  # rows: true SAFE..CRITICAL; cols: predicted SAFE..CRITICAL,UNKNOWN
    disagreements: list[dict[str, Any]] = field(default_factory=list)
    #: decision-level safety figures (see :func:`decision_safety`), reported before accuracy
    safety: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: accuracy among the most confident tools per coverage (registries with confidences only)
    curve: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "split": self.split,
            "n": self.n,
            "safety": self.safety,
            "exact": self.exact,
            "within_one": self.within_one,
            "kappa_quadratic": self.kappa_quadratic,
            "n_kappa": self.n_kappa,
            "n_unknown": self.n_unknown,
            "n_missing": self.n_missing,
            "per_class": self.per_class,
            "confusion_rows": [lv.name for lv in LEVELS],
            "confusion_cols": [lv.name for lv in PRED_LEVELS],
            "confusion": self.confusion,
            "disagreements": self.disagreements,
            "coverage_curve": self.curve,
        }


SAFETY_METRICS = ("unsafe_approval_rate", "critical_undercall_rate", "friction_rate", "coverage")


def decision_safety(
    y_true: list[int], y_pred: list[int], *, n_resamples: int = 4000, seed: int = 0
) -> dict[str, dict[str, Any]]:
    """Decision-level safety of one prediction per tool (the unit), with bootstrap CIs.

    * ``unsafe_approval_rate``: tools labelled HIGH_RISK or CRITICAL whose decision is APPROVE;
    * ``critical_undercall_rate``: tools labelled CRITICAL whose decision is not REJECT;
    * ``friction_rate``: tools labelled SAFE or LOW_RISK whose decision is not APPROVE;
    * ``coverage``: tools whose prediction is a level, not UNKNOWN.

    The same definitions as the run report (``tcplab.report.reduce.safety_values``), here with
    one prediction per tool. Each entry: ``value``, ``ci_low``, ``ci_high`` (95 % BCa, tool
    resampling; None below 2 tools or when every value is equal), ``n`` (tools in the base).
    """
    from tcplab.stats import mean_ci

    values: dict[str, list[float]] = {m: [] for m in SAFETY_METRICS}
    for t, p in zip(y_true, y_pred, strict=True):
        decision = decide(RiskLevel(p))
        values["coverage"].append(float(p >= 0))
        if t >= int(RiskLevel.HIGH_RISK):
            values["unsafe_approval_rate"].append(float(decision is Decision.APPROVE))
        if t == int(RiskLevel.CRITICAL):
            values["critical_undercall_rate"].append(float(decision is not Decision.REJECT))
        if t <= int(RiskLevel.LOW_RISK):
            values["friction_rate"].append(float(decision is not Decision.APPROVE))
    out: dict[str, dict[str, Any]] = {}
    for metric, vals in values.items():
        entry: dict[str, Any] = {"value": None, "ci_low": None, "ci_high": None, "n": len(vals)}
        if vals:
            entry["value"] = sum(vals) / len(vals)
        if len(vals) >= 2 and len(set(vals)) > 1:
            ci = mean_ci(vals, n_resamples=n_resamples, seed=seed)
            entry.update(ci_low=float(ci.low), ci_high=float(ci.high))
        out[metric] = entry
    return out


def _curve(
    y_true: list[int], y_pred: list[int], conf: list[float | None]
) -> list[dict[str, float]]:
    """The coverage–accuracy curve when the explanation records carry confidences."""
    if not any(c is not None for c in conf):
        return []
    return coverage_curve(y_true, y_pred, [c if c is not None else -1.0 for c in conf])


def evaluate_registry(
    registry: Registry,
    labels: LabelSet,
    split: Split | None = "test",
    explanations: dict[str, dict[str, Any]] | None = None,
) -> Evaluation:
    """Score every labeled tool of ``split`` (None = all) against the registry."""
    chosen = labels.subset(split)
    y_true: list[int] = []
    y_pred: list[int] = []
    conf: list[float | None] = []
    n_missing = 0
    disagreements: list[dict[str, Any]] = []
    for lb in chosen:
        raw = registry.get_bytes(lb.command)
        if raw is None:
            n_missing += 1
            pred = RiskLevel.UNKNOWN
        else:
            pred = registry.lookup(lb.command).risk_level
        y_true.append(int(lb.risk_level))
        y_pred.append(int(pred))
        c = (explanations or {}).get(lb.command, {}).get("confidence")
        conf.append(float(c) if isinstance(c, int | float) else None)
        if pred is not lb.risk_level:
            exp = (explanations or {}).get(lb.command, {})
            disagreements.append(
                {
                    "tool": lb.command,
                    "label": lb.risk_level.name,
                    "predicted": pred.name if raw is not None else "MISSING",
                    "label_rationale": lb.rationale,
                    "explanation": exp,
                }
            )
    n = len(chosen)
    exact = sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / n if n else float("nan")
    within = (
        sum(p >= 0 and abs(t - p) <= 1 for t, p in zip(y_true, y_pred, strict=True)) / n
        if n
        else float("nan")
    )
    known = [(t, p) for t, p in zip(y_true, y_pred, strict=True) if p >= 0]
    qwk = (
        cohen_kappa(
            [t for t, _ in known],
            [p for _, p in known],
            labels=[int(lv) for lv in LEVELS],
            weights="quadratic",
        )
        if known
        else float("nan")
    )
    cm = confusion_matrix(y_true, y_pred, [int(lv) for lv in PRED_LEVELS])[: len(LEVELS)]
    per_class: dict[str, dict[str, float]] = {}
    for i, lv in enumerate(LEVELS):
        tp = int(cm[i, i])
        fp = int(cm[:, i].sum()) - tp
        fn = int(cm[i, :].sum()) - tp
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per_class[lv.name] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    return Evaluation(
        split=split or "all",
        n=n,
        exact=exact,
        within_one=within,
        kappa_quadratic=qwk,
        n_kappa=len(known),
        n_unknown=sum(p < 0 for p in y_pred) - n_missing,
        n_missing=n_missing,
        per_class=per_class,
        confusion=cm.tolist(),
        disagreements=disagreements,
        safety=decision_safety(y_true, y_pred),
        curve=_curve(y_true, y_pred, conf),
    )
