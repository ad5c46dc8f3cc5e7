"""Descriptive statistics, Tukey outlier labels and instability warnings."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._validate import as_float_array, check_positive_int

__all__ = ["MAD_NORMAL_SCALE", "Description", "OutlierReport", "describe", "tukey_outliers"]

MAD_NORMAL_SCALE = 1.482602218505602
"""``1 / Phi^-1(3/4)``: makes the MAD a consistent estimator of the SD for normal data."""

OutlierLabel = Literal["none", "mild", "severe"]


@dataclass(frozen=True, slots=True)
class Description:
    """Summary of one sample (e.g. the latencies of one arm, in seconds).

    Attributes:
        n: number of values.
        mean: arithmetic mean.
        sd: sample standard deviation (``ddof=1``); NaN when ``n < 2``.
        median: the median (= ``p50``).
        mad: median absolute deviation *scaled* by 1.4826, comparable to ``sd`` for normal
            data.
        mad_raw: the raw (unscaled) median absolute deviation ``median(|x - median|)``.
        min: smallest value.
        max: largest value.
        p50: 50th percentile.
        p90: 90th percentile.
        p95: 95th percentile.
        p99: 99th percentile.
        p999: 99.9th percentile.
        cv: coefficient of variation ``sd / mean``; NaN when ``n < 2`` or ``mean == 0``.
        warnings: human-readable instability warnings; empty when the sample looks stable.
    """

    n: int
    mean: float
    sd: float
    median: float
    mad: float
    mad_raw: float
    min: float
    max: float
    p50: float
    p90: float
    p95: float
    p99: float
    p999: float
    cv: float
    warnings: tuple[str, ...]

    @property
    def stable(self) -> bool:
        """True when no instability warning was raised."""
        return not self.warnings


def describe(x: Sequence[float], *, min_n: int = 30, max_cv: float = 0.10) -> Description:
    """Describe a sample and warn when it is too small or too variable to trust.

    Method: mean, sample SD (``ddof=1``), median, median absolute deviation (raw and scaled
    by ``1/Phi^-1(3/4) = 1.4826``), and percentiles by linear interpolation between order
    statistics (Hyndman and Fan type 7, numpy's default). Sources: Hyndman R. J., Fan Y.
    (1996) Sample quantiles in statistical packages. The American Statistician 50:361-365;
    Rousseeuw P. J., Croux C. (1993) Alternatives to the median absolute deviation. JASA
    88:1273-1283. Warnings are raised when ``n < min_n`` or when the coefficient of
    variation exceeds ``max_cv`` (10% by default, a common benchmarking stability rule,
    e.g. Georges A., Buytaert D., Eeckhout L. (2007) Statistically rigorous Java
    performance evaluation. OOPSLA).

    Args:
        x: the values; finite numbers, at least one.
        min_n: below this many values a "too few samples" warning is given (default 30).
        max_cv: above this coefficient of variation a "high variability" warning is given.

    Returns:
        A :class:`Description`.

    Raises:
        UsageError: if ``x`` is empty or holds NaN/inf, or the options are invalid.
    """
    arr = as_float_array(x, "x")
    check_positive_int(min_n, "min_n")
    if not max_cv > 0:
        raise UsageError(f"max_cv must be > 0 (got {max_cv})")
    n = int(arr.size)
    mean = float(np.mean(arr))
    sd = float(np.std(arr, ddof=1)) if n > 1 else math.nan
    median = float(np.median(arr))
    mad_raw = float(np.median(np.abs(arr - median)))
    p50, p90, p95, p99, p999 = (float(v) for v in np.percentile(arr, [50, 90, 95, 99, 99.9]))
    cv = sd / abs(mean) if n > 1 and mean != 0 else math.nan
    warnings: list[str] = []
    if n < min_n:
        warnings.append(f"too few samples: n={n} < {min_n}; estimates are unstable")
    if math.isfinite(cv) and cv > max_cv:
        warnings.append(f"high variability: CV={cv:.1%} > {max_cv:.0%}; measurements are noisy")
    return Description(
        n=n,
        mean=mean,
        sd=sd,
        median=median,
        mad=MAD_NORMAL_SCALE * mad_raw,
        mad_raw=mad_raw,
        min=float(np.min(arr)),
        max=float(np.max(arr)),
        p50=p50,
        p90=p90,
        p95=p95,
        p99=p99,
        p999=p999,
        cv=cv,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True, slots=True)
class OutlierReport:
    """Tukey fence labels for each value.

    Attributes:
        labels: ``"none"``, ``"mild"`` (beyond 1.5 IQR from the quartiles) or ``"severe"``
            (beyond 3 IQR), one per input value, in input order.
        q1: first quartile.
        q3: third quartile.
        iqr: ``q3 - q1``.
        inner_fences: ``(q1 - 1.5 IQR, q3 + 1.5 IQR)``.
        outer_fences: ``(q1 - 3 IQR, q3 + 3 IQR)``.
        n_mild: number of mild outliers.
        n_severe: number of severe outliers.
    """

    labels: tuple[OutlierLabel, ...]
    q1: float
    q3: float
    iqr: float
    inner_fences: tuple[float, float]
    outer_fences: tuple[float, float]
    n_mild: int
    n_severe: int


def tukey_outliers(x: Sequence[float]) -> OutlierReport:
    """Label each value as no, mild or severe outlier with Tukey's fences.

    Method: with quartiles ``q1, q3`` (linear interpolation, Hyndman-Fan type 7) and
    ``IQR = q3 - q1``, a value outside ``[q1 - 3 IQR, q3 + 3 IQR]`` is severe, else a value
    outside ``[q1 - 1.5 IQR, q3 + 1.5 IQR]`` is mild, else none. Values exactly on a fence
    are inside. Source: Tukey J. W. (1977) Exploratory Data Analysis. Addison-Wesley.

    Args:
        x: the values; finite numbers, at least one.

    Returns:
        An :class:`OutlierReport`.

    Raises:
        UsageError: if ``x`` is empty or holds NaN/inf.
    """
    arr = as_float_array(x, "x")
    q1, q3 = (float(v) for v in np.percentile(arr, [25, 75]))
    iqr = q3 - q1
    inner = (q1 - 1.5 * iqr, q3 + 1.5 * iqr)
    outer = (q1 - 3.0 * iqr, q3 + 3.0 * iqr)
    severe = (arr < outer[0]) | (arr > outer[1])
    mild = ~severe & ((arr < inner[0]) | (arr > inner[1]))
    labels: list[OutlierLabel] = [
        "severe" if s else ("mild" if m else "none")
        for s, m in zip(severe.tolist(), mild.tolist(), strict=True)
    ]
    return OutlierReport(
        labels=tuple(labels),
        q1=q1,
        q3=q3,
        iqr=iqr,
        inner_fences=inner,
        outer_fences=outer,
        n_mild=int(mild.sum()),
        n_severe=int(severe.sum()),
    )
