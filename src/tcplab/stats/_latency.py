"""Latency comparison between two arms, with the tool as the unit of analysis."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
    as_positive_array,
    check_alpha,
    check_positive_int,
    require_scipy,
    same_length,
)

__all__ = [
    "MedianRatioResult",
    "WelchResult",
    "median_ratio_ci",
    "per_tool_medians",
    "ratio_of_medians",
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


def _log_median_difference(log_a: FloatArray, log_b: FloatArray) -> float:
    return float(np.median(log_a) - np.median(log_b))


def ratio_of_medians(a_medians: Sequence[float], b_medians: Sequence[float]) -> float:
    """The ratio of the medians of two arms' per-tool median latencies, on the log scale.

    Method: ``exp(median(log a) - median(log b))``: the point estimate of
    :func:`median_ratio_ci` (with an even number of tools the median of the logs is the
    log of the geometric mean of the two middle values). Speed ratios of the report, the
    quickstart table and the SQL store all come from here.

    Args:
        a_medians: per-tool median latencies of arm A (positive), at least one.
        b_medians: the same for arm B.

    Raises:
        UsageError: an empty input or a latency that is not a finite positive number.
    """
    la = np.log(as_positive_array(a_medians, "a_medians"))
    lb = np.log(as_positive_array(b_medians, "b_medians"))
    return math.exp(_log_median_difference(la, lb))


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
    estimate = _log_median_difference(ma, mb)
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
