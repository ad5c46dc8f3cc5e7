"""Accuracy of ordinal risk predictions against ground truth, with tool-level bootstrap CIs.

Labels are ordinal ints (0..4 = SAFE..CRITICAL by default). Predictions may also be
:data:`UNKNOWN` (-1) or :data:`PARSE_FAILURE` (-2): both count as wrong for every metric and
are reported separately.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from tcplab.errors import UsageError
from tcplab.stats._bootstrap import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    Method,
    check_confidence,
    check_method,
    interval_from_replicates,
    resample_counts,
)
from tcplab.stats._validate import (
    FloatArray,
    IntArray,
    as_int_array,
    check_positive_int,
    labels_array,
    same_length,
)

__all__ = ["PARSE_FAILURE", "UNKNOWN", "AccuracyReport", "ClassMetrics", "accuracy_report"]

UNKNOWN = -1
"""Prediction marker: the arm answered but could not name a risk level."""
PARSE_FAILURE = -2
"""Prediction marker: the arm's output could not be parsed at all."""

_METRICS = ("accuracy_exact", "accuracy_within_one", "macro_f1", "mcc", "kappa", "kappa_quadratic")


@dataclass(frozen=True, slots=True)
class ClassMetrics:
    """Precision, recall and F1 of one class (zero when undefined, like sklearn's
    ``zero_division=0``).

    Attributes:
        label: the class label.
        precision: ``tp / predicted``.
        recall: ``tp / support``; UNKNOWN and PARSE_FAILURE predictions are misses.
        f1: ``2 tp / (2 tp + fp + fn)``.
        support: number of samples whose true label is ``label``.
    """

    label: int
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True, slots=True)
class AccuracyReport:
    """Every accuracy metric of one arm, each with a bootstrap CI over tools.

    Attributes:
        labels: the ordinal labels, in order.
        n_tools: number of tools (bootstrap clusters).
        n_samples: number of (tool, trial) predictions.
        accuracy_exact: mean over tools of each tool's fraction of exactly right trials.
        accuracy_within_one: same, counting ``|pred - true| <= 1`` as right.
        macro_f1: unweighted mean of the per-class F1 over ``labels``.
        mcc: multiclass Matthews correlation (Gorodkin's R_K).
        kappa: Cohen's kappa; UNKNOWN and PARSE_FAILURE are extra categories.
        kappa_quadratic: quadratic-weighted kappa; UNKNOWN/PARSE_FAILURE get the largest
            disagreement weight ``(K - 1) ** 2`` against every true class.
        per_class: :class:`ClassMetrics` for each label (point estimates).
        confusion: ``K x K`` counts of (true, predicted) over valid predictions.
        n_unknown: UNKNOWN predictions.
        n_parse_failure: PARSE_FAILURE predictions.
        unknown_rate: ``n_unknown / n_samples``.
        parse_failure_rate: ``n_parse_failure / n_samples``.
    """

    labels: tuple[int, ...]
    n_tools: int
    n_samples: int
    accuracy_exact: BootstrapResult
    accuracy_within_one: BootstrapResult
    macro_f1: BootstrapResult
    mcc: BootstrapResult
    kappa: BootstrapResult
    kappa_quadratic: BootstrapResult
    per_class: tuple[ClassMetrics, ...]
    confusion: IntArray
    n_unknown: int
    n_parse_failure: int
    unknown_rate: float
    parse_failure_rate: float


def _safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _kappa_weights(k: int) -> tuple[FloatArray, FloatArray]:
    idx = np.arange(k)
    unweighted = np.ones((k, k + 2))
    unweighted[idx, idx] = 0.0
    quad = np.full((k, k + 2), float((k - 1) ** 2))
    quad[:, :k] = (idx[:, None] - idx[None, :]) ** 2
    if k == 1:
        quad[:, k:] = 1.0  # a single class: any non-answer is a full disagreement
    return unweighted, quad


def confusion_metrics(m: npt.NDArray[np.float64]) -> dict[str, FloatArray]:
    """Pooled metrics from a batch of extended confusion matrices ``(N, K, K + 2)``.

    Columns ``K`` and ``K + 1`` count UNKNOWN and PARSE_FAILURE predictions.
    """
    k = m.shape[1]
    valid = m[:, :, :k]
    n = m.sum(axis=(1, 2))
    tp = np.diagonal(valid, axis1=1, axis2=2)
    pred = valid.sum(axis=1)
    true = m.sum(axis=2)
    f1 = _safe_div(2 * tp, 2 * tp + (pred - tp) + (true - tp))
    cols = m.sum(axis=1)  # (N, K+2), includes the UNKNOWN/FAILURE columns
    c = tp.sum(axis=1)
    tp_dot = np.einsum("nk,nk->n", true, cols[:, :k])
    cov_tp = c * n - tp_dot
    cov_pp = n**2 - np.einsum("nk,nk->n", cols, cols)
    cov_tt = n**2 - np.einsum("nk,nk->n", true, true)
    mcc = _safe_div(cov_tp, np.sqrt(cov_tt * cov_pp))
    out = {"macro_f1": f1.mean(axis=1), "mcc": mcc}
    w_u, w_q = _kappa_weights(k)
    expected = true[:, :, None] * cols[:, None, :] / n[:, None, None]
    for name, w in (("kappa", w_u), ("kappa_quadratic", w_q)):
        obs = np.einsum("ij,nij->n", w, m)
        exp = np.einsum("ij,nij->n", w, expected)
        kappa = np.where(obs == 0, 1.0, 0.0)
        np.divide(exp - obs, exp, out=kappa, where=exp != 0)
        out[name] = kappa
    return out


def accuracy_report(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    *,
    tools: Sequence[Hashable] | None = None,
    labels: Iterable[int] = range(5),
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    confidence: float = 0.95,
    seed: int = 0,
) -> AccuracyReport:
    """Accuracy of predicted ordinal labels, each metric with a cluster bootstrap CI.

    Method: ``accuracy_exact`` (and ``accuracy_within_one``) is the mean over tools of each
    tool's fraction of right trials, so every tool weighs the same. The pooled metrics are
    computed from the confusion matrix of all trials: per-class precision/recall/F1 and
    macro-F1 (Sokolova M., Lapalme G. (2009) A systematic analysis of performance measures
    for classification tasks. Information Processing & Management 45:427-437), the
    multiclass Matthews correlation (Gorodkin J. (2004) Comparing two K-category
    assignments by a K-category correlation coefficient. Computational Biology and
    Chemistry 28:367-374), Cohen's kappa and quadratic-weighted kappa (Cohen J. (1968)
    Weighted kappa. Psychological Bulletin 70:213-220). UNKNOWN (-1) and PARSE_FAILURE
    (-2) predictions are wrong for every metric: they are misses for recall, extra
    categories for MCC and kappa, and get the largest weight ``(K-1)**2`` in the
    quadratic kappa. CIs resample tools (cluster bootstrap; BCa with a leave-one-tool-out
    jackknife; Efron B. (1987) Better bootstrap confidence intervals. JASA 82:171-185).
    With one trial per tool and no UNKNOWN/PARSE_FAILURE the point estimates equal
    sklearn's ``accuracy_score``, ``f1_score(average="macro")``, ``matthews_corrcoef`` and
    ``cohen_kappa_score``.

    Args:
        y_true: true label per sample; every value must be in ``labels``.
        y_pred: predicted label per sample: a value of ``labels``, -1 or -2.
        tools: the tool of each sample (any hashable id); default: each sample is its own
            tool. At least 2 tools are needed.
        labels: the ordinal labels in order (default ``range(5)``, SAFE..CRITICAL).
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        confidence: CI coverage (default 0.95).
        seed: numpy Generator seed.

    Returns:
        An :class:`AccuracyReport`.

    Raises:
        UsageError: on empty or mismatched input, unknown labels, or fewer than 2 tools.
    """
    check_method(method)
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples", minimum=2)
    enc = _encode(y_true, y_pred, tools, labels)
    k, n_tools = enc.labels.size, enc.n_tools
    per_tool = np.bincount(
        (enc.tool * k + enc.true) * (k + 2) + enc.pred, minlength=n_tools * k * (k + 2)
    ).reshape(n_tools, k, k + 2)
    cis = _bootstrap_metrics(
        per_tool, enc, n_resamples=n_resamples, method=method, confidence=confidence, seed=seed
    )
    conf = per_tool.sum(axis=0)
    n = int(enc.true.size)
    n_unknown = int(conf[:, k].sum())
    n_fail = int(conf[:, k + 1].sum())
    return AccuracyReport(
        labels=tuple(int(v) for v in enc.labels),
        n_tools=n_tools,
        n_samples=n,
        per_class=_per_class(conf, enc.labels),
        confusion=conf[:, :k].astype(np.int64),
        n_unknown=n_unknown,
        n_parse_failure=n_fail,
        unknown_rate=n_unknown / n,
        parse_failure_rate=n_fail / n,
        **cis,
    )


@dataclass(frozen=True, slots=True)
class _Encoded:
    """Samples as indices: true class 0..K-1, predicted 0..K+1 (K: UNKNOWN, K+1: FAILURE),
    and tool (cluster) 0..n_tools-1 in first-seen order."""

    labels: IntArray
    true: IntArray
    pred: IntArray
    tool: IntArray
    n_tools: int


def _encode(
    y_true: Sequence[int],
    y_pred: Sequence[int],
    tools: Sequence[Hashable] | None,
    labels: Iterable[int],
) -> _Encoded:
    lab = labels_array(labels)
    if np.any(lab < 0):
        raise UsageError("labels must be non-negative; -1/-2 are reserved for UNKNOWN/FAILURE")
    t = as_int_array(y_true, "y_true")
    p = as_int_array(y_pred, "y_pred")
    same_length(t, p, "y_true", "y_pred")
    tool_ids: list[Hashable] = list(range(t.size)) if tools is None else list(tools)
    same_length(tool_ids, t, "tools", "y_true")
    k = lab.size
    lookup = {int(v): i for i, v in enumerate(lab.tolist())}
    lookup_pred = {**lookup, UNKNOWN: k, PARSE_FAILURE: k + 1}
    try:
        ti = np.array([lookup[int(v)] for v in t], dtype=np.int64)
    except KeyError as exc:
        raise UsageError(f"y_true holds {exc.args[0]}, which is not in labels") from exc
    try:
        pi = np.array([lookup_pred[int(v)] for v in p], dtype=np.int64)
    except KeyError as exc:
        raise UsageError(
            f"y_pred holds {exc.args[0]}, which is neither in labels nor -1 (UNKNOWN) "
            "nor -2 (PARSE_FAILURE)"
        ) from exc
    uniq: dict[Hashable, int] = {}
    ci = np.array([uniq.setdefault(x, len(uniq)) for x in tool_ids], dtype=np.int64)
    if len(uniq) < 2:
        raise UsageError(f"pass samples from at least 2 tools (got {len(uniq)})")
    return _Encoded(lab, ti, pi, ci, len(uniq))


def _bootstrap_metrics(
    per_tool: IntArray,
    enc: _Encoded,
    *,
    n_resamples: int,
    method: Method,
    confidence: float,
    seed: int,
) -> dict[str, BootstrapResult]:
    """Every metric of :data:`_METRICS` with its tool-level bootstrap interval."""
    k, n_tools, ci, ti, pi = enc.labels.size, enc.n_tools, enc.tool, enc.true, enc.pred
    per_tool_f = per_tool.astype(np.float64)
    n_per_tool = np.bincount(ci, minlength=n_tools).astype(np.float64)
    valid = pi < k
    exact = np.bincount(ci, weights=(valid & (pi == ti)).astype(float), minlength=n_tools)
    near = np.bincount(
        ci, weights=(valid & (np.abs(pi - ti) <= 1)).astype(float), minlength=n_tools
    )
    frac = {"accuracy_exact": exact / n_per_tool, "accuracy_within_one": near / n_per_tool}

    def batch(weights: FloatArray) -> dict[str, FloatArray]:
        mats = np.tensordot(weights, per_tool_f, axes=(1, 0))
        out = confusion_metrics(mats)
        for name, f in frac.items():
            out[name] = (weights @ f) / weights.sum(axis=1)
        return out

    total = batch(np.ones((1, n_tools)))
    reps = batch(resample_counts(n_tools, n_resamples, seed).astype(np.float64))
    jack = batch(1.0 - np.eye(n_tools)) if method == "bca" else None
    return {
        name: interval_from_replicates(
            float(total[name][0]),
            reps[name],
            None if jack is None else jack[name],
            method=method,
            confidence=confidence,
            n_clusters=n_tools,
            seed=seed,
        )
        for name in _METRICS
    }


def _per_class(conf: IntArray, lab: IntArray) -> tuple[ClassMetrics, ...]:
    """Precision, recall and F1 of each label from the pooled extended confusion matrix."""
    k = lab.size
    tp = np.diag(conf[:, :k]).astype(np.float64)
    predicted = conf[:, :k].sum(axis=0).astype(np.float64)
    support = conf.sum(axis=1).astype(np.float64)
    prec = _safe_div(tp, predicted)
    rec = _safe_div(tp, support)
    f1 = _safe_div(2 * tp, predicted + support)
    return tuple(
        ClassMetrics(int(lab[i]), float(prec[i]), float(rec[i]), float(f1[i]), int(support[i]))
        for i in range(k)
    )
