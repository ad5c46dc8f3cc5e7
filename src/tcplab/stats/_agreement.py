"""Confusion matrices and Cohen's kappa (unweighted, linear and quadratic weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._validate import IntArray, as_int_array, labels_array, same_length

__all__ = ["cohen_kappa", "confusion_matrix"]


def _index_of(values: IntArray, labels: IntArray, name: str) -> IntArray:
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    pos = np.searchsorted(sorted_labels, values)
    pos_clipped = np.minimum(pos, sorted_labels.size - 1)
    found = sorted_labels[pos_clipped] == values
    if not np.all(found):
        missing = sorted(set(values[~found].tolist()))
        raise UsageError(
            f"{name} holds values {missing} that are not in labels {labels.tolist()}; "
            "add them to labels (e.g. -1 for UNKNOWN) or drop those samples"
        )
    return order[pos_clipped].astype(np.int64)


def confusion_matrix(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[int]
) -> IntArray:
    """Count (true, predicted) label pairs.

    Method: the contingency table of two categorical ratings; entry ``[i, j]`` counts
    samples whose true label is ``labels[i]`` and whose predicted label is ``labels[j]``
    (the same convention as ``sklearn.metrics.confusion_matrix``). Source: Stehman S. V.
    (1997) Selecting and interpreting measures of thematic classification accuracy.
    Remote Sensing of Environment 62:77-89.

    Args:
        y_true: true labels, one per sample.
        y_pred: predicted labels, one per sample, same order as ``y_true``.
        labels: every label that may occur, in the row/column order wanted.

    Returns:
        An ``(len(labels), len(labels))`` int64 array; rows are true labels, columns
        predicted labels.

    Raises:
        UsageError: if the inputs are empty, of different lengths, not integers, or hold a
            value that is not in ``labels``.
    """
    t = as_int_array(y_true, "y_true")
    p = as_int_array(y_pred, "y_pred")
    same_length(t, p, "y_true", "y_pred")
    lab = labels_array(labels)
    ti = _index_of(t, lab, "y_true")
    pi = _index_of(p, lab, "y_pred")
    k = lab.size
    flat = np.bincount(ti * k + pi, minlength=k * k)
    return flat.reshape(k, k).astype(np.int64)


def cohen_kappa(
    a: Sequence[int],
    b: Sequence[int],
    *,
    labels: Sequence[int] | None = None,
    weights: Literal["linear", "quadratic"] | None = None,
) -> float:
    """Cohen's kappa between two raters, optionally weighted for ordinal labels.

    Method: ``kappa = 1 - sum(W * O) / sum(W * E)`` where ``O`` is the confusion matrix of
    ``a`` against ``b``, ``E`` the outer product of its marginals divided by ``n`` and ``W``
    the disagreement weights: ``1 - I`` (unweighted), ``|i - j|`` (linear) or
    ``(i - j)**2`` (quadratic), with ``i, j`` the *positions* of the labels in ``labels``.
    This matches ``sklearn.metrics.cohen_kappa_score``. Sources: Cohen J. (1960) A
    coefficient of agreement for nominal scales. Educational and Psychological Measurement
    20:37-46; Cohen J. (1968) Weighted kappa. Psychological Bulletin 70:213-220.

    Degenerate case: when the expected disagreement ``sum(W * E)`` is 0 (both raters use
    one and the same label throughout), kappa is undefined (0/0). This function then
    returns 1.0 if the observed disagreement is also 0 (perfect agreement) and 0.0
    otherwise, so the result is never NaN.

    Args:
        a: labels from the first rater (or the ground truth).
        b: labels from the second rater, same length and order as ``a``.
        labels: the label set, in ordinal order. Defaults to the sorted union of the labels
            seen in ``a`` and ``b``. Every value of ``a`` and ``b`` must be in it.
        weights: ``None`` for unweighted kappa, ``"linear"`` or ``"quadratic"``.

    Returns:
        Kappa, in ``[-1, 1]``.

    Raises:
        UsageError: on empty or mismatched input, unknown ``weights``, or values outside
            ``labels``.
    """
    x = as_int_array(a, "a")
    y = as_int_array(b, "b")
    same_length(x, y, "a", "b")
    lab = np.union1d(x, y) if labels is None else labels_array(labels)
    conf = confusion_matrix(x.tolist(), y.tolist(), lab.tolist()).astype(np.float64)
    k = lab.size
    idx = np.arange(k)
    if weights is None:
        w = np.ones((k, k), dtype=np.float64)
        w.flat[:: k + 1] = 0.0
    elif weights == "linear":
        w = np.abs(idx[:, None] - idx[None, :]).astype(np.float64)
    elif weights == "quadratic":
        w = ((idx[:, None] - idx[None, :]) ** 2).astype(np.float64)
    else:
        raise UsageError(f"weights must be None, 'linear' or 'quadratic' (got {weights!r})")
    sum0 = conf.sum(axis=0)
    sum1 = conf.sum(axis=1)
    expected = np.outer(sum0, sum1) / np.sum(sum0)
    observed_dis = float(np.sum(w * conf))
    expected_dis = float(np.sum(w * expected))
    if expected_dis == 0.0:
        return 1.0 if observed_dis == 0.0 else 0.0
    return float(1.0 - observed_dis / expected_dis)
