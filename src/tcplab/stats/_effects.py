"""Rank tests and effect sizes for two independent samples (e.g. per-tool latencies)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._validate import FloatArray, as_float_array, as_positive_array, check_alpha

__all__ = ["MannWhitneyResult", "cliffs_delta", "hedges_g", "mann_whitney_u"]


@dataclass(frozen=True, slots=True)
class MannWhitneyResult:
    """Mann-Whitney U test.

    Attributes:
        statistic: ``U`` of sample ``a`` (number of pairs with a > b, ties counting 1/2).
        p_value: two-sided p-value.
        method: ``"exact"`` or ``"asymptotic"``.
        alpha: significance level.
        significant: ``p_value < alpha``.
    """

    statistic: float
    p_value: float
    method: Literal["exact", "asymptotic"]
    alpha: float
    significant: bool


def _exact_u_sf(u: int, n1: int, n2: int) -> float:
    """P(U >= u) under H0 without ties, by the Mann-Whitney recursion."""
    # counts[j][k]: number of arrangements of j a-values and k b-values giving U
    prev = [np.zeros(1, dtype=np.float64) + 1.0 for _ in range(n2 + 1)]  # j = 0
    for _j in range(1, n1 + 1):
        cur: list[FloatArray] = [np.ones(1, dtype=np.float64)]
        for k in range(1, n2 + 1):
            # last (largest) value is an a: it beats all k b-values -> shift by k
            with_a = np.concatenate([np.zeros(k), prev[k]])
            with_b = cur[k - 1]
            size = max(with_a.size, with_b.size)
            c = np.zeros(size)
            c[: with_a.size] += with_a
            c[: with_b.size] += with_b
            cur.append(c)
        prev = cur
    dist = prev[n2]
    return float(dist[u:].sum() / dist.sum())


def mann_whitney_u(
    a: Sequence[float], b: Sequence[float], *, alpha: float = 0.05
) -> MannWhitneyResult:
    """Two-sided Mann-Whitney U (Wilcoxon rank-sum) test.

    Method: ``U_a = R_a - n_a (n_a + 1) / 2`` with mid-ranks for ties; the exact null
    distribution (Mann-Whitney recursion) when either sample has at most 8 values and there
    are no ties, otherwise the normal approximation
    with tie-corrected variance and continuity correction. Matches
    ``scipy.stats.mannwhitneyu(a, b, method="auto")``. Source: Mann H. B., Whitney D. R.
    (1947) On a test of whether one of two random variables is stochastically larger than
    the other. Annals of Mathematical Statistics 18:50-60.

    Args:
        a: values of arm A (finite), at least 1.
        b: values of arm B (finite), at least 1.
        alpha: significance level (default 0.05).

    Returns:
        A :class:`MannWhitneyResult`.

    Raises:
        UsageError: on empty or non-finite input.
    """
    check_alpha(alpha)
    x = as_float_array(a, "a")
    y = as_float_array(b, "b")
    n1, n2 = x.size, y.size
    xy = np.concatenate([x, y])
    _, inverse, tie_counts = np.unique(xy, return_inverse=True, return_counts=True)
    cum = np.cumsum(tie_counts)
    mid_ranks = cum - (tie_counts - 1) / 2.0
    ranks = mid_ranks[inverse]
    u1 = float(ranks[:n1].sum() - n1 * (n1 + 1) / 2.0)
    u = max(u1, n1 * n2 - u1)
    ties = bool(np.any(tie_counts > 1))
    method: Literal["exact", "asymptotic"]
    if (n1 > 8 and n2 > 8) or ties:
        method = "asymptotic"
        n = n1 + n2
        t = tie_counts.astype(np.float64)
        s = math.sqrt(n1 * n2 / 12.0 * ((n + 1) - float(np.sum(t**3 - t)) / (n * (n - 1))))
        p = 2.0 * (1.0 - NormalDist().cdf((u - n1 * n2 / 2.0 - 0.5) / s)) if s > 0 else 1.0
    else:
        method = "exact"
        p = 2.0 * _exact_u_sf(round(u), n1, n2)
    p = min(max(p, 0.0), 1.0)
    return MannWhitneyResult(
        statistic=u1, p_value=p, method=method, alpha=alpha, significant=p < alpha
    )


def hedges_g(a: Sequence[float], b: Sequence[float], *, log: bool = True) -> float:
    """Hedges' g standardized mean difference, by default on log latency.

    Method: ``g = J * (mean(a) - mean(b)) / s_p`` with the pooled SD
    ``s_p = sqrt(((na-1) va + (nb-1) vb) / (na + nb - 2))`` and the exact small-sample
    correction ``J = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``, ``df = na + nb - 2``.
    Source: Hedges L. V. (1981) Distribution theory for Glass's estimator of effect size
    and related estimators. Journal of Educational Statistics 6:107-128.

    Args:
        a: values of arm A (positive latencies when ``log``), at least 2.
        b: values of arm B, at least 2.
        log: take natural logs first (default True).

    Returns:
        g (positive when A is larger/slower).

    Raises:
        UsageError: on fewer than 2 values per arm, or when both samples are constant.
    """
    conv = as_positive_array if log else as_float_array
    x = conv(a, "a", min_n=2)
    y = conv(b, "b", min_n=2)
    if log:
        x, y = np.log(x), np.log(y)
    df = x.size + y.size - 2
    sp2 = ((x.size - 1) * np.var(x, ddof=1) + (y.size - 1) * np.var(y, ddof=1)) / df
    if sp2 == 0:
        raise UsageError("both samples are constant; Hedges' g is undefined")
    j = math.exp(math.lgamma(df / 2) - math.lgamma((df - 1) / 2)) / math.sqrt(df / 2)
    return float(j * (np.mean(x) - np.mean(y)) / math.sqrt(sp2))


def cliffs_delta(a: Sequence[float], b: Sequence[float]) -> float:
    """Cliff's delta dominance statistic.

    Method: ``delta = (#{a_i > b_j} - #{a_i < b_j}) / (na * nb)`` over all pairs, computed
    in ``O((na + nb) log nb)`` by sorting. Source: Cliff N. (1993) Dominance statistics:
    ordinal analyses to answer ordinal questions. Psychological Bulletin 114:494-509.

    Args:
        a: values of arm A (finite), at least 1.
        b: values of arm B (finite), at least 1.

    Returns:
        delta in ``[-1, 1]`` (positive when A tends to be larger).

    Raises:
        UsageError: on empty or non-finite input.
    """
    x = as_float_array(a, "a")
    y = np.sort(as_float_array(b, "b"))
    greater = np.searchsorted(y, x, side="left").sum()
    less = (y.size - np.searchsorted(y, x, side="right")).sum()
    return float((int(greater) - int(less)) / (x.size * y.size))
