"""Cluster bootstrap: percentile and BCa against scipy and the BCa formulas."""

from __future__ import annotations

from statistics import NormalDist

import numpy as np
import pytest
from scipy.stats import bootstrap as sp_bootstrap

from tcplab.errors import UsageError
from tcplab.stats import bootstrap_ci
from tcplab.stats._bootstrap import bca_levels, resample_counts


def _mean(clusters: list[np.ndarray]) -> float:
    return float(np.mean(np.concatenate(clusters)))


@pytest.mark.parametrize(("method", "sp_method"), [("percentile", "percentile"), ("bca", "BCa")])
def test_iid_bootstrap_agrees_with_scipy(method: str, sp_method: str) -> None:
    x = np.random.default_rng(7).exponential(size=60)
    ours = bootstrap_ci([[v] for v in x], _mean, n_resamples=4000, method=method, seed=3)  # type: ignore[arg-type]
    ref = sp_bootstrap((x,), np.mean, n_resamples=4000, method=sp_method, rng=99)
    width = ref.confidence_interval.high - ref.confidence_interval.low
    assert abs(ours.low - ref.confidence_interval.low) < 0.05 * width
    assert abs(ours.high - ref.confidence_interval.high) < 0.05 * width


def test_iid_bootstrap_equals_scipy_with_same_generator_draws() -> None:
    # scipy draws rng.integers(0, n, (B, n)) too, so the same seed gives the same resamples.
    x = np.random.default_rng(1).normal(size=40)
    for method, sp_method in (("percentile", "percentile"), ("bca", "BCa")):
        ours = bootstrap_ci([[v] for v in x], _mean, n_resamples=2000, method=method, seed=5)  # type: ignore[arg-type]
        ref = sp_bootstrap((x,), np.mean, n_resamples=2000, method=sp_method, rng=5)
        assert ours.low == pytest.approx(ref.confidence_interval.low, rel=1e-9)
        assert ours.high == pytest.approx(ref.confidence_interval.high, rel=1e-9)


def test_bca_levels_follow_efron_formulas() -> None:
    reps = np.arange(10, dtype=float)  # 3 values below 2.5 of 10 -> p = 0.3
    jack = np.array([1.0, 2.0, 4.0])
    lo, hi = bca_levels(2.5, reps, jack, 0.90)
    nd = NormalDist()
    z0 = nd.inv_cdf(0.3)
    d = jack.mean() - jack
    a = (d**3).sum() / (6 * (d**2).sum() ** 1.5)
    for z, got in ((nd.inv_cdf(0.05), lo), (nd.inv_cdf(0.95), hi)):
        assert got == pytest.approx(nd.cdf(z0 + (z0 + z) / (1 - a * (z0 + z))), abs=1e-12)


def test_bca_reduces_to_percentile_without_bias_and_skew() -> None:
    reps = np.linspace(-1, 1, 1001)
    lo, hi = bca_levels(0.0, reps, np.array([1.0, 1.0, 1.0]), 0.95)
    assert (lo, hi) == pytest.approx((0.025, 0.975), abs=1e-9)


def test_cluster_bootstrap_resamples_clusters_not_trials() -> None:
    # two clusters of identical trials: any resample's mean is one of 3 values
    data = [np.zeros(50), np.ones(50)]
    seen: set[float] = set()

    def stat(cl: list[np.ndarray]) -> float:
        v = _mean(cl)
        seen.add(round(v, 12))
        return v

    bootstrap_ci(data, stat, n_resamples=200, method="percentile")
    assert seen <= {0.0, 0.5, 1.0}


def test_cluster_bootstrap_is_wider_than_trial_bootstrap_for_correlated_trials() -> None:
    rng = np.random.default_rng(0)
    clusters = [np.full(20, rng.normal()) + rng.normal(scale=0.1, size=20) for _ in range(15)]
    by_tool = bootstrap_ci(clusters, _mean, n_resamples=1000, method="percentile")
    flat = np.concatenate(clusters)
    by_trial = bootstrap_ci([[v] for v in flat], _mean, n_resamples=1000, method="percentile")
    assert (by_tool.high - by_tool.low) > 2 * (by_trial.high - by_trial.low)


def test_bootstrap_is_reproducible_from_seed() -> None:
    data = [[1.0, 2.0], [3.0], [4.0, 8.0], [0.5]]
    a = bootstrap_ci(data, _mean, n_resamples=300, seed=11)
    b = bootstrap_ci(data, _mean, n_resamples=300, seed=11)
    c = bootstrap_ci(data, _mean, n_resamples=300, seed=12)
    assert a == b
    assert (a.low, a.high) != (c.low, c.high)


def test_resample_counts_rows_sum_to_cluster_count() -> None:
    w = resample_counts(7, 50, seed=0)
    assert w.shape == (50, 7)
    assert np.all(w.sum(axis=1) == 7)


@pytest.mark.parametrize(
    "kwargs",
    [{"method": "normal"}, {"confidence": 1.0}, {"n_resamples": 1}],
)
def test_bootstrap_rejects_bad_options(kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        bootstrap_ci([[1.0], [2.0]], _mean, **kwargs)  # type: ignore[arg-type]


def test_bootstrap_needs_two_clusters() -> None:
    with pytest.raises(UsageError, match="at least 2 clusters"):
        bootstrap_ci([[1.0, 2.0]], _mean)
