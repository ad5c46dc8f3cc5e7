"""The helpers the run reduction relies on: ratio_of_medians and mean_ci."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcplab.errors import UsageError
from tcplab.stats import bootstrap_ci, mean_ci, median_ratio_ci, ratio_of_medians


def test_ratio_of_medians_is_the_point_estimate_of_median_ratio_ci() -> None:
    rng = np.random.default_rng(4)
    a = rng.lognormal(3, 1, 40)  # even count: the median of the logs is a geometric mean
    b = rng.lognormal(1, 1, 40)
    ci = median_ratio_ci([[v] for v in a], [[v] for v in b], n_resamples=200)
    assert ratio_of_medians(a.tolist(), b.tolist()) == ci.ratio
    odd = ratio_of_medians([1.0, 8.0, 100.0], [2.0, 3.0, 4.0])
    assert odd == pytest.approx(8.0 / 3.0, rel=1e-12)
    assert ratio_of_medians([10.0], [40.0]) == pytest.approx(0.25, rel=1e-12)


@pytest.mark.parametrize("bad", [[], [0.0], [-1.0], [math.nan]])
def test_ratio_of_medians_rejects_non_latencies(bad: list[float]) -> None:
    with pytest.raises(UsageError):
        ratio_of_medians(bad, [1.0])


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_mean_ci_equals_the_generic_cluster_bootstrap(method: str) -> None:
    x = np.random.default_rng(2).random(35)
    fast = mean_ci(x, n_resamples=2000, method=method, seed=5)  # type: ignore[arg-type]
    slow = bootstrap_ci(
        [[v] for v in x],
        lambda cs: float(np.mean([c[0] for c in cs])),
        n_resamples=2000,
        method=method,  # type: ignore[arg-type]
        seed=5,
    )
    assert fast.estimate == pytest.approx(slow.estimate, abs=1e-12)
    assert fast.low == pytest.approx(slow.low, abs=1e-12)
    assert fast.high == pytest.approx(slow.high, abs=1e-12)
    assert fast.n_clusters == 35


def test_mean_ci_needs_two_tools() -> None:
    with pytest.raises(UsageError, match="at least 2"):
        mean_ci([0.5])
