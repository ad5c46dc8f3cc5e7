"""Seeded cluster bootstrap with percentile and BCa intervals.

The cluster bootstrap resamples whole clusters (tools) with replacement, never single
trials, so that correlated trials of one tool do not shrink the interval. The BCa
acceleration comes from a leave-one-cluster-out jackknife.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np
import numpy.typing as npt

from tcplab.errors import UsageError
from tcplab.stats._validate import FloatArray, IntArray, as_float_array, check_positive_int

__all__ = ["BootstrapResult", "bootstrap_ci", "mean_ci"]

Method = Literal["bca", "percentile"]
DEFAULT_RESAMPLES = 10_000
_NORMAL = NormalDist()


@dataclass(frozen=True, slots=True)
class BootstrapResult:
    """A bootstrap confidence interval.

    Attributes:
        estimate: the statistic on the original data.
        low: lower bound of the interval.
        high: upper bound of the interval.
        confidence: the coverage asked for (e.g. 0.95).
        method: ``"bca"`` or ``"percentile"``.
        n_resamples: bootstrap resamples drawn.
        n_clusters: clusters (tools) resampled.
        standard_error: standard deviation of the bootstrap replicates.
        seed: seed of the numpy Generator used.
    """

    estimate: float
    low: float
    high: float
    confidence: float
    method: Method
    n_resamples: int
    n_clusters: int
    standard_error: float
    seed: int


def check_method(method: str) -> Method:
    """Return ``method`` if it is ``"bca"`` or ``"percentile"``."""
    if method not in ("bca", "percentile"):
        raise UsageError(f"method must be 'bca' or 'percentile' (got {method!r})")
    return "bca" if method == "bca" else "percentile"


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` after checking it lies strictly between 0 and 1."""
    if not (0.0 < float(confidence) < 1.0):
        raise UsageError(f"confidence must be strictly between 0 and 1 (got {confidence})")
    return float(confidence)


def resample_counts(n_clusters: int, n_resamples: int, seed: int) -> IntArray:
    """How often each cluster is drawn in each resample: an ``(n_resamples, n_clusters)`` array.

    Drawing is ``Generator(PCG64(seed)).integers(0, n_clusters, (n_resamples, n_clusters))``,
    so results are reproducible from ``seed``.
    """
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_clusters, size=(n_resamples, n_clusters))
    offsets = (np.arange(n_resamples, dtype=np.int64) * n_clusters)[:, None]
    flat = np.bincount((idx + offsets).ravel(), minlength=n_resamples * n_clusters)
    return flat.reshape(n_resamples, n_clusters).astype(np.int64)


def bca_levels(
    estimate: float,
    replicates: FloatArray,
    jackknife: FloatArray | Sequence[FloatArray],
    confidence: float,
) -> tuple[float, float]:
    """The adjusted quantile levels of the BCa interval.

    ``z0 = Phi^-1(p)`` with ``p`` the share of replicates below the estimate (replicates
    equal to it count one half; ``p`` is clipped into ``[0.5/B, 1 - 0.5/B]``);
    ``a = sum(d**3) / (6 * sum(d**2) ** 1.5)`` with ``d = mean(jackknife) - jackknife``
    (``a = 0`` when every jackknife value is equal; with several independently resampled
    samples, the sums run over every sample's jackknife, each centred on its own mean); the
    levels are
    ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` for ``z = Phi^-1(alpha/2), Phi^-1(1 - alpha/2)``.
    """
    b = replicates.size
    below = float(np.sum(replicates < estimate)) + 0.5 * float(np.sum(replicates == estimate))
    p = min(max(below / b, 0.5 / b), 1.0 - 0.5 / b)
    z0 = _NORMAL.inv_cdf(p)
    jacks = [jackknife] if isinstance(jackknife, np.ndarray) else list(jackknife)
    d = np.concatenate([float(np.mean(j)) - j for j in jacks])
    denom = float(np.sum(d**2)) ** 1.5
    accel = float(np.sum(d**3)) / (6.0 * denom) if denom > 0 else 0.0
    alpha = 1.0 - confidence
    levels = []
    for z in (_NORMAL.inv_cdf(alpha / 2), _NORMAL.inv_cdf(1 - alpha / 2)):
        shift = 1.0 - accel * (z0 + z)
        if shift <= 0:  # extreme acceleration: fall back to the far end
            levels.append(0.0 if z < 0 else 1.0)
            continue
        levels.append(_NORMAL.cdf(z0 + (z0 + z) / shift))
    return levels[0], levels[1]


def interval_from_replicates(
    estimate: float,
    replicates: FloatArray,
    jackknife: FloatArray | Sequence[FloatArray] | None,
    *,
    method: Method,
    confidence: float,
    n_clusters: int,
    seed: int,
) -> BootstrapResult:
    """Turn bootstrap replicates (and jackknife values for BCa) into a :class:`BootstrapResult`."""
    reps = replicates[np.isfinite(replicates)]
    if reps.size == 0:
        raise UsageError("every bootstrap replicate was NaN or infinite; check the statistic")
    alpha = 1.0 - confidence
    if method == "bca":
        if jackknife is None:  # pragma: no cover - internal misuse
            raise UsageError("BCa needs jackknife values")
        lo_level, hi_level = bca_levels(estimate, reps, jackknife, confidence)
    else:
        lo_level, hi_level = alpha / 2, 1 - alpha / 2
    low, high = np.quantile(reps, [lo_level, hi_level])
    se = float(np.std(reps, ddof=1)) if reps.size > 1 else 0.0
    return BootstrapResult(
        estimate=float(estimate),
        low=float(low),
        high=float(high),
        confidence=confidence,
        method=method,
        n_resamples=int(replicates.size),
        n_clusters=n_clusters,
        standard_error=se,
        seed=seed,
    )


def bootstrap_ci(
    data_by_cluster: Sequence[npt.ArrayLike],
    statistic: Callable[[list[FloatArray]], float],
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """Cluster bootstrap confidence interval of any statistic.

    Method: each resample draws as many clusters as there are, with replacement, from
    ``data_by_cluster`` (e.g. one array of trial values per tool) and evaluates
    ``statistic`` on the list of drawn clusters. ``"percentile"`` takes the
    ``alpha/2`` and ``1 - alpha/2`` quantiles of the replicates; ``"bca"``
    (bias-corrected and accelerated) adjusts those levels with a bias correction from the
    share of replicates below the estimate and an acceleration from a leave-one-cluster-out
    jackknife. Sources: Efron B. (1987) Better bootstrap confidence intervals. JASA
    82:171-185; Davison A. C., Hinkley D. V. (1997) Bootstrap Methods and their
    Application, Cambridge University Press, section 3.8 (cluster resampling).

    For i.i.d. data pass one single-value cluster per observation.

    Args:
        data_by_cluster: one array-like of numbers per cluster (tool). At least 2 clusters.
        statistic: maps a list of cluster arrays to one number.
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        confidence: interval coverage, strictly between 0 and 1 (default 0.95).
        seed: seed of the numpy Generator; the same seed gives the same interval.

    Returns:
        A :class:`BootstrapResult`.

    Raises:
        UsageError: with fewer than 2 clusters, an empty or non-finite cluster, or bad
            options.
    """
    check_method(method)
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples", minimum=2)
    clusters = [as_float_array(c, f"cluster {i}") for i, c in enumerate(data_by_cluster)]
    n = len(clusters)
    if n < 2:
        raise UsageError(f"pass at least 2 clusters (tools) to bootstrap (got {n})")
    estimate = float(statistic(clusters))
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_resamples, n))
    reps = np.fromiter(
        (float(statistic([clusters[j] for j in row])) for row in idx),
        dtype=np.float64,
        count=n_resamples,
    )
    jack: FloatArray | None = None
    if method == "bca":
        jack = np.array(
            [float(statistic(clusters[:i] + clusters[i + 1 :])) for i in range(n)],
            dtype=np.float64,
        )
    if not math.isfinite(estimate):
        raise UsageError("the statistic is NaN or infinite on the data; check the statistic")
    return interval_from_replicates(
        estimate, reps, jack, method=method, confidence=confidence, n_clusters=n, seed=seed
    )


def mean_ci(
    values: Sequence[float] | npt.ArrayLike,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    method: Method = "bca",
    confidence: float = 0.95,
    seed: int = 0,
) -> BootstrapResult:
    """The mean of one value per tool with a tool-level bootstrap CI.

    Method: the same resampling as :func:`bootstrap_ci` with one single-value cluster per
    tool (so the same seed draws the same tools), vectorised: each replicate is
    ``counts @ values / n``; the BCa jackknife values are the leave-one-tool-out means.
    Used for per-tool rates such as accuracy differences and decision safety rates.

    Args:
        values: one number per tool (e.g. a tool's share of unsafe approvals), at least 2.
        n_resamples: bootstrap resamples (default 10,000).
        method: ``"bca"`` (default) or ``"percentile"``.
        confidence: CI coverage (default 0.95).
        seed: numpy Generator seed.

    Raises:
        UsageError: fewer than 2 values, a non-finite value, or bad options.
    """
    check_method(method)
    check_confidence(confidence)
    check_positive_int(n_resamples, "n_resamples", minimum=2)
    d = as_float_array(values, "values")
    n = d.size
    if n < 2:
        raise UsageError(f"pass at least 2 tools to bootstrap a mean (got {n})")
    w = resample_counts(n, n_resamples, seed).astype(np.float64)
    reps = (w @ d) / n
    jack = (d.sum() - d) / (n - 1) if method == "bca" else None
    return interval_from_replicates(
        float(d.mean()), reps, jack, method=method, confidence=confidence, n_clusters=n, seed=seed
    )
