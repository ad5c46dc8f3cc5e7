"""Latency comparison between two arms, with the tool as the unit of analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._bootstrap import (
    DEFAULT_RESAMPLES,
    BootstrapResult,
    Method,
    check_confidence,
    check_method,
    interval_from_replicates,
)
from tcplab.stats._validate import (
    FloatArray,
    as_float_array,
    as_positive_array,
    check_alpha,
    check_positive_int,
    require_scipy,
    same_length,
)

__all__ = [
    "MannWhitneyResult",
    "MedianRatioResult",
    "WelchResult",
    "cliffs_delta",
    "hedges_g",
    "mann_whitney_u",
    "median_ratio_ci",
    "per_tool_medians",
    "welch_log_ttest",
]

LatenciesByTool = Sequence[Sequence[float]] | Mapping[str, Sequence[float]]


def per_tool_medians(latencies_by_tool: LatenciesByTool) -> FloatArray:
    """Reduce each tool's repeated latencies to their median.

    Method: the tool is the unit of analysis, so repeated trials of one tool are first
    summarised by their median (robust to warm-up and scheduling outliers). Source:
    Kalibera T., Jones R. (2013) Rigorous benchmarking in reasonable time. ISMM 2013.

    Args:
        latencies_by_tool: one sequence of positive latencies per tool, or a mapping from
            tool name to its latencies (insertion order is kept).

    Returns:
        A float64 array with one median per tool.

    Raises:
        UsageError: if there are no tools, a tool has no latencies, or a latency is not a
            finite positive number.
    """
    groups = (
        list(latencies_by_tool.items())
        if isinstance(latencies_by_tool, Mapping)
        else [(str(i), g) for i, g in enumerate(latencies_by_tool)]
    )
    if not groups:
        raise UsageError("pass at least one tool's latencies")
    return np.array(
        [float(np.median(as_positive_array(g, f"latencies of tool {name}"))) for name, g in groups],
        dtype=np.float64,
    )


@dataclass(frozen=True, slots=True)
class MedianRatioResult:
    """Ratio of the median per-tool latency of arm A to that of arm B.

    Attributes:
        ratio: ``median(A) / median(B)`` over per-tool medians (> 1: A is slower).
        low: lower bound of the CI of the ratio.
        high: upper bound of the CI of the ratio.
        log_ci: the bootstrap result on the log scale (``log(ratio)``).
        paired: whether the same tools were resampled in both arms.
        significant: whether the CI excludes 1.
    """

    ratio: float
    low: float
    high: float
    log_ci: BootstrapResult
    paired: bool
    significant: bool


def _medians_of_resamples(values: FloatArray, counts_idx: np.ndarray) -> FloatArray:
    out = np.empty(counts_idx.shape[0], dtype=np.float64)
    step = max(1, 2_000_000 // max(values.size, 1))
    for start in range(0, counts_idx.shape[0], step):
        out[start : start + step] = np.median(values[counts_idx[start : start + step]], axis=1)
    return out


def median_ratio_ci(
    a_by_tool: LatenciesByTool,
    b_by_tool: LatenciesByTool,
    *,
    paired: bool = True,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    confidence: float = 0.95,
    seed: int = 0,
) -> MedianRatioResult:
    """Ratio of median latencies of two arms with a tool-level bootstrap CI on the log scale.

    Method: per-tool medians are computed for each arm; the statistic is
    ``log(median_A) - log(median_B)`` of those medians; tools are resampled with
    replacement (the same tools in both arms when ``paired``, independently otherwise) and
    a percentile or BCa interval (jackknife over tools) is exponentiated back to a ratio.
    Sources: Efron B. (1987) Better bootstrap confidence intervals. JASA 82:171-185;
    Kalibera T., Jones R. (2013) Rigorous benchmarking in reasonable time. ISMM 2013.

    Args:
        a_by_tool: latencies per tool for arm A (see :func:`per_tool_medians`).
        b_by_tool: latencies per tool for arm B; same tools in the same order if ``paired``.
        paired: resample the same tool indices in both arms (default True).
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        confidence: CI coverage (default 0.95).
        seed: numpy Generator seed.

    Returns:
        A :class:`MedianRatioResult`.

    Raises:
        UsageError: on bad latencies, fewer than 2 tools, or unequal tool counts when paired.
    """
    check_method(method)
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples", minimum=2)
    ma = np.log(per_tool_medians(a_by_tool))
    mb = np.log(per_tool_medians(b_by_tool))
    if ma.size < 2 or mb.size < 2:
        raise UsageError("pass at least 2 tools per arm to bootstrap the latency ratio")
    estimate = float(np.median(ma) - np.median(mb))
    rng = np.random.default_rng(seed)
    if paired:
        same_length(ma, mb, "a_by_tool", "b_by_tool")
        idx = rng.integers(0, ma.size, size=(n_resamples, ma.size))
        reps = _medians_of_resamples(ma, idx) - _medians_of_resamples(mb, idx)
        keep = ~np.eye(ma.size, dtype=bool)
        jack: list[FloatArray] = [
            np.array([np.median(ma[k]) - np.median(mb[k]) for k in keep], dtype=np.float64)
        ]
    else:
        ia = rng.integers(0, ma.size, size=(n_resamples, ma.size))
        ib = rng.integers(0, mb.size, size=(n_resamples, mb.size))
        reps = _medians_of_resamples(ma, ia) - _medians_of_resamples(mb, ib)
        med_b, med_a = float(np.median(mb)), float(np.median(ma))
        jack = [
            np.array([np.median(np.delete(ma, i)) - med_b for i in range(ma.size)]),
            np.array([med_a - np.median(np.delete(mb, i)) for i in range(mb.size)]),
        ]
    res = interval_from_replicates(
        estimate,
        reps,
        jack,
        method=method,
        confidence=confidence,
        n_clusters=int(ma.size if paired else ma.size + mb.size),
        seed=seed,
    )
    low, high = math.exp(res.low), math.exp(res.high)
    return MedianRatioResult(
        ratio=math.exp(estimate),
        low=low,
        high=high,
        log_ci=res,
        paired=paired,
        significant=not (low <= 1.0 <= high),
    )


@dataclass(frozen=True, slots=True)
class WelchResult:
    """Welch's t-test on log latency.

    Attributes:
        statistic: the t statistic of ``mean(log A) - mean(log B)``.
        df: Welch-Satterthwaite degrees of freedom.
        p_value: two-sided p-value.
        ratio: geometric-mean ratio ``exp(mean(log A) - mean(log B))``.
        ratio_low: lower bound of the ``1 - alpha`` CI of that ratio.
        ratio_high: upper bound of that CI.
        alpha: significance level.
        significant: ``p_value < alpha``.
    """

    statistic: float
    df: float
    p_value: float
    ratio: float
    ratio_low: float
    ratio_high: float
    alpha: float
    significant: bool


def welch_log_ttest(a: Sequence[float], b: Sequence[float], *, alpha: float = 0.05) -> WelchResult:
    """Welch's unequal-variance t-test on the logarithm of two latency samples.

    Method: ``t = (mean(log a) - mean(log b)) / sqrt(va/na + vb/nb)`` with sample variances
    (``ddof=1``) and Welch-Satterthwaite df; p-value and CI from Student's t (scipy).
    Matches ``scipy.stats.ttest_ind(log a, log b, equal_var=False)``. Sources: Welch B. L.
    (1947) The generalization of Student's problem when several different population
    variances are involved. Biometrika 34:28-35; Satterthwaite F. E. (1946) Biometrics
    Bulletin 2:110-114.

    Args:
        a: positive latencies of arm A (usually per-tool medians), at least 2.
        b: positive latencies of arm B, at least 2.
        alpha: significance level (default 0.05).

    Returns:
        A :class:`WelchResult`.

    Raises:
        UsageError: on fewer than 2 values, non-positive values, or zero variance in both.
        MissingDependencyError: if scipy is not installed.
    """
    check_alpha(alpha)
    la = np.log(as_positive_array(a, "a", min_n=2))
    lb = np.log(as_positive_array(b, "b", min_n=2))
    va = float(np.var(la, ddof=1)) / la.size
    vb = float(np.var(lb, ddof=1)) / lb.size
    se2 = va + vb
    if se2 == 0:
        raise UsageError("both samples are constant; the t-test is undefined")
    diff = float(np.mean(la) - np.mean(lb))
    se = math.sqrt(se2)
    df = se2**2 / (va**2 / (la.size - 1) + vb**2 / (lb.size - 1))
    t = diff / se
    sps = require_scipy("Welch's t-test")
    p = float(2.0 * sps.t.sf(abs(t), df))
    q = float(sps.t.ppf(1 - alpha / 2, df))
    return WelchResult(
        statistic=t,
        df=df,
        p_value=min(p, 1.0),
        ratio=math.exp(diff),
        ratio_low=math.exp(diff - q * se),
        ratio_high=math.exp(diff + q * se),
        alpha=alpha,
        significant=p < alpha,
    )


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
