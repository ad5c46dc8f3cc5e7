"""Paired comparison of two arms evaluated on the same tools."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._agreement import cohen_kappa
from tcplab.stats._bootstrap import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    Method,
    check_confidence,
    check_method,
    mean_ci,
)
from tcplab.stats._validate import (
    FloatArray,
    as_float_array,
    as_int_array,
    check_alpha,
    check_positive_int,
    require_scipy,
    same_length,
)

__all__ = [
    "ArmAgreement",
    "McNemarResult",
    "TostResult",
    "arm_agreement",
    "mcnemar",
    "paired_accuracy_difference",
    "tost_equivalence",
]

EXACT_BELOW = 25


def _correct(x: Sequence[bool] | Sequence[float], name: str) -> FloatArray:
    arr = as_float_array(x, name)
    if np.any((arr < 0) | (arr > 1)):
        raise UsageError(f"{name} must hold per-tool correctness in [0, 1] (bool or fraction)")
    return arr


@dataclass(frozen=True, slots=True)
class McNemarResult:
    """McNemar's test of paired correctness.

    Attributes:
        a_only: tools right in arm A and wrong in arm B.
        b_only: tools right in arm B and wrong in arm A.
        statistic: ``min(a_only, b_only)`` (exact) or the corrected chi-square.
        p_value: two-sided p-value.
        method: ``"exact"`` (binomial) or ``"chi2"`` (with continuity correction).
        alpha: significance level.
        significant: ``p_value < alpha``.
    """

    a_only: int
    b_only: int
    statistic: float
    p_value: float
    method: Literal["exact", "chi2"]
    alpha: float
    significant: bool


def mcnemar(
    correct_a: Sequence[bool],
    correct_b: Sequence[bool],
    *,
    alpha: float = 0.05,
    exact_below: int = EXACT_BELOW,
) -> McNemarResult:
    """McNemar's test for two arms judged right/wrong on the same tools.

    Method: with ``b`` tools right only in A and ``c`` right only in B, if
    ``b + c < exact_below`` (default 25) the exact two-sided binomial test
    ``p = min(1, 2 P(X <= min(b, c)))``, ``X ~ Bin(b + c, 1/2)``; otherwise the chi-square
    statistic with continuity correction ``(|b - c| - 1)^2 / (b + c)`` on 1 df. Matches
    ``statsmodels.stats.contingency_tables.mcnemar(exact=..., correction=True)``. Sources:
    McNemar Q. (1947) Note on the sampling error of the difference between correlated
    proportions or percentages. Psychometrika 12:153-157; Edwards A. L. (1948)
    Psychometrika 13:185-187 (continuity correction).

    Args:
        correct_a: per tool, whether arm A was right (e.g. its modal prediction).
        correct_b: per tool, whether arm B was right; same tools, same order.
        alpha: significance level (default 0.05).
        exact_below: use the exact test below this many discordant tools.

    Returns:
        A :class:`McNemarResult`.

    Raises:
        UsageError: on empty or mismatched input or values other than 0/1.
        MissingDependencyError: if scipy is not installed.
    """
    check_alpha(alpha)
    a = as_float_array(correct_a, "correct_a")
    b = as_float_array(correct_b, "correct_b")
    same_length(a, b, "correct_a", "correct_b")
    if not (np.all(np.isin(a, (0.0, 1.0))) and np.all(np.isin(b, (0.0, 1.0)))):
        raise UsageError("correct_a and correct_b must hold booleans (True = right)")
    n10 = int(np.sum((a == 1) & (b == 0)))
    n01 = int(np.sum((a == 0) & (b == 1)))
    sps = require_scipy("McNemar's test")
    method: Literal["exact", "chi2"]
    if n10 + n01 < exact_below:
        method = "exact"
        stat = float(min(n10, n01))
        p = min(1.0, float(2.0 * sps.binom.cdf(stat, n10 + n01, 0.5)))
    else:
        method = "chi2"
        stat = (abs(n10 - n01) - 1.0) ** 2 / (n10 + n01)
        p = float(sps.chi2.sf(stat, 1))
    return McNemarResult(n10, n01, stat, p, method, alpha, p < alpha)


def paired_accuracy_difference(
    correct_a: Sequence[bool] | Sequence[float],
    correct_b: Sequence[bool] | Sequence[float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Paired bootstrap CI of ``accuracy(A) - accuracy(B)`` over the same tools.

    Method: the statistic is the mean over tools of ``correct_a - correct_b``; tools are
    resampled with replacement, the same tools for both arms, and a percentile or BCa
    interval is formed (jackknife over tools). Source: Efron B., Tibshirani R. J. (1993)
    An Introduction to the Bootstrap, Chapman & Hall, chapters 14 (BCa) and 15 (paired
    data).

    Args:
        correct_a: per tool, arm A's correctness (bool, or fraction of right trials).
        correct_b: per tool, arm B's correctness; same tools, same order.
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        confidence: CI coverage (default 0.95).
        seed: numpy Generator seed.

    Returns:
        A :class:`~tcplab.stats.BootstrapResult` of the difference (positive: A better).

    Raises:
        UsageError: on mismatched input, fewer than 2 tools, values outside [0, 1].
    """
    check_method(method)
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples", minimum=2)
    a = _correct(correct_a, "correct_a")
    b = _correct(correct_b, "correct_b")
    same_length(a, b, "correct_a", "correct_b")
    if a.size < 2:
        raise UsageError("pass at least 2 tools for a paired bootstrap")
    return mean_ci(a - b, n_resamples=n_resamples, method=method, confidence=confidence, seed=seed)


@dataclass(frozen=True, slots=True)
class TostResult:
    """Equivalence of two arms' accuracy within a margin (two one-sided tests).

    Attributes:
        difference: ``accuracy(A) - accuracy(B)``.
        low: lower bound of the ``1 - 2 alpha`` paired bootstrap CI.
        high: upper bound of that CI.
        margin: equivalence margin (accuracy points as a fraction, 0.05 = 5 points).
        alpha: level of each one-sided test.
        equivalent: the CI lies strictly inside ``(-margin, margin)``.
        ci: the underlying bootstrap result.
    """

    difference: float
    low: float
    high: float
    margin: float
    alpha: float
    equivalent: bool
    ci: BootstrapResult


def tost_equivalence(
    correct_a: Sequence[bool] | Sequence[float],
    correct_b: Sequence[bool] | Sequence[float],
    *,
    margin: float = 0.05,
    alpha: float = 0.05,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    seed: int = 0,
) -> TostResult:
    """Paired TOST equivalence test of two arms' accuracy via a bootstrap CI.

    Method: two one-sided tests at level ``alpha`` reject non-equivalence exactly when the
    ``1 - 2 alpha`` confidence interval of the difference lies inside
    ``(-margin, margin)``; the interval is the paired tool-level bootstrap of
    :func:`paired_accuracy_difference`. Sources: Schuirmann D. J. (1987) A comparison of
    the two one-sided tests procedure and the power approach for assessing the equivalence
    of average bioavailability. J Pharmacokinet Biopharm 15:657-680; Efron B., Tibshirani
    R. J. (1993) An Introduction to the Bootstrap, chapter 14.

    Args:
        correct_a: per tool, arm A's correctness (bool or fraction).
        correct_b: per tool, arm B's correctness; same tools, same order.
        margin: equivalence margin, > 0 (default 0.05 = 5 accuracy points).
        alpha: level of each one-sided test (default 0.05, so a 90% CI).
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        seed: numpy Generator seed.

    Returns:
        A :class:`TostResult`.

    Raises:
        UsageError: on bad input, ``margin <= 0`` or ``alpha >= 0.5``.
    """
    check_alpha(alpha)
    if alpha >= 0.5:
        raise UsageError(f"alpha must be below 0.5 for TOST (got {alpha})")
    if not margin > 0:
        raise UsageError(f"margin must be > 0 (got {margin})")
    ci = paired_accuracy_difference(
        correct_a,
        correct_b,
        n_resamples=n_resamples,
        method=method,
        confidence=1.0 - 2.0 * alpha,
        seed=seed,
    )
    return TostResult(
        difference=ci.estimate,
        low=ci.low,
        high=ci.high,
        margin=float(margin),
        alpha=alpha,
        equivalent=bool(-margin < ci.low and ci.high < margin),
        ci=ci,
    )


@dataclass(frozen=True, slots=True)
class ArmAgreement:
    """How often two arms give the same label to a tool.

    Attributes:
        n: tools compared.
        raw_agreement: fraction of tools with identical labels.
        kappa: Cohen's kappa between the arms.
        kappa_quadratic: quadratic-weighted kappa between the arms.
    """

    n: int
    raw_agreement: float
    kappa: float
    kappa_quadratic: float


def arm_agreement(
    pred_a: Sequence[int], pred_b: Sequence[int], *, labels: Sequence[int] | None = None
) -> ArmAgreement:
    """Agreement between two arms' labels on the same tools.

    Method: raw agreement, Cohen's kappa and quadratic-weighted kappa (see
    :func:`~tcplab.stats.cohen_kappa`). Sources: Cohen J. (1960) Educational and
    Psychological Measurement 20:37-46; Cohen J. (1968) Psychological Bulletin 70:213-220.

    Args:
        pred_a: arm A's label per tool (e.g. modal predictions).
        pred_b: arm B's label per tool, same order.
        labels: the label set in ordinal order; default: sorted union. Include -1/-2 if
            present; they then sit below SAFE on the ordinal scale.

    Returns:
        An :class:`ArmAgreement`.

    Raises:
        UsageError: on empty or mismatched input.
    """
    a = as_int_array(pred_a, "pred_a")
    b = as_int_array(pred_b, "pred_b")
    same_length(a, b, "pred_a", "pred_b")
    return ArmAgreement(
        n=int(a.size),
        raw_agreement=float(np.mean(a == b)),
        kappa=cohen_kappa(a.tolist(), b.tolist(), labels=labels),
        kappa_quadratic=cohen_kappa(a.tolist(), b.tolist(), labels=labels, weights="quadratic"),
    )
