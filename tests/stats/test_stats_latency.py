"""Latency comparison between arms: medians ratio, Welch, Mann-Whitney, effect sizes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as sps

from tcplab.errors import UsageError
from tcplab.stats import (
    cliffs_delta,
    hedges_g,
    mann_whitney_u,
    median_ratio_ci,
    per_tool_medians,
    welch_log_ttest,
)

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)
small_ints = st.integers(min_value=0, max_value=6).map(float)


def test_per_tool_medians_accepts_lists_and_mappings() -> None:
    np.testing.assert_allclose(per_tool_medians([[1.0, 3.0, 2.0], [5.0]]), [2.0, 5.0])
    np.testing.assert_allclose(per_tool_medians({"ls": [1.0, 2.0], "rm": [4.0]}), [1.5, 4.0])


@pytest.mark.parametrize("bad", [[], [[]], [[1.0, -2.0]], [[float("nan")]]])
def test_per_tool_medians_rejects_bad_latencies(bad: list[list[float]]) -> None:
    with pytest.raises(UsageError):
        per_tool_medians(bad)


@given(st.lists(positive, min_size=2, max_size=30), st.lists(positive, min_size=2, max_size=30))
@settings(max_examples=60, deadline=None)
def test_welch_matches_scipy_on_log_latency(a: list[float], b: list[float]) -> None:
    la, lb = np.log(a), np.log(b)
    # scipy warns (precision loss) on (near-)constant samples; compare where it is exact
    assume(np.ptp(la) > 1e-6 and np.ptp(lb) > 1e-6)
    ours = welch_log_ttest(a, b)
    ref = sps.ttest_ind(la, lb, equal_var=False)
    assert ours.statistic == pytest.approx(ref.statistic, rel=1e-9, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-12)
    assert ours.df == pytest.approx(ref.df, rel=1e-9)
    assert ours.significant == (ours.p_value < 0.05)


def test_welch_ratio_ci_matches_scipy_confidence_interval() -> None:
    rng = np.random.default_rng(2)
    a, b = rng.lognormal(0.2, 0.5, 25), rng.lognormal(0.0, 0.3, 18)
    ours = welch_log_ttest(a, b, alpha=0.1)
    ci = sps.ttest_ind(np.log(a), np.log(b), equal_var=False).confidence_interval(0.9)
    assert math.log(ours.ratio_low) == pytest.approx(ci.low, rel=1e-9)
    assert math.log(ours.ratio_high) == pytest.approx(ci.high, rel=1e-9)


def test_welch_says_not_significant_for_same_distribution() -> None:
    rng = np.random.default_rng(3)
    r = welch_log_ttest(rng.lognormal(size=30), rng.lognormal(size=30))
    assert r.p_value > 0.05 and not r.significant


@given(
    st.lists(small_ints, min_size=1, max_size=14),
    st.lists(small_ints, min_size=1, max_size=14),
)
@settings(max_examples=80, deadline=None)
def test_mann_whitney_matches_scipy_with_ties(a: list[float], b: list[float]) -> None:
    if len(set(a + b)) == 1:
        return  # zero variance: scipy returns NaN
    ours = mann_whitney_u(a, b)
    ref = sps.mannwhitneyu(a, b)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-9)


@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 10_000))
@settings(max_examples=60, deadline=None)
def test_mann_whitney_exact_matches_scipy_without_ties(n1: int, n2: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    xy = rng.permutation(n1 + n2).astype(float)
    a, b = xy[:n1], xy[n1:]
    ours = mann_whitney_u(a, b)
    ref = sps.mannwhitneyu(a, b)
    assert ours.method == ("asymptotic" if n1 > 8 and n2 > 8 else "exact")
    assert ours.p_value == pytest.approx(ref.pvalue, abs=1e-9)


def _cliff_brute(a: list[float], b: list[float]) -> float:
    s = sum((x > y) - (x < y) for x in a for y in b)
    return s / (len(a) * len(b))


@given(
    st.lists(small_ints, min_size=1, max_size=25),
    st.lists(small_ints, min_size=1, max_size=25),
)
@settings(max_examples=80, deadline=None)
def test_cliffs_delta_matches_brute_force(a: list[float], b: list[float]) -> None:
    assert cliffs_delta(a, b) == pytest.approx(_cliff_brute(a, b), abs=1e-12)


def test_hedges_g_on_log_latency_matches_formula() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.lognormal(0.5, 0.4, 12), rng.lognormal(0.0, 0.4, 9)
    la, lb = np.log(a), np.log(b)
    df = la.size + lb.size - 2
    sp = math.sqrt(((la.size - 1) * la.var(ddof=1) + (lb.size - 1) * lb.var(ddof=1)) / df)
    j = 1 - 3 / (4 * df - 1)  # Hedges' approximation of the exact gamma correction
    assert hedges_g(a, b) == pytest.approx(j * (la.mean() - lb.mean()) / sp, rel=1e-3)
    assert hedges_g(la, lb, log=False) == pytest.approx(hedges_g(a, b), rel=1e-12)


def test_median_ratio_ci_covers_true_ratio_and_is_significant() -> None:
    rng = np.random.default_rng(5)
    base = rng.lognormal(0.0, 0.5, 40)
    a = [list(b * 2.0 * rng.lognormal(0, 0.05, 5)) for b in base]
    b = [list(x * rng.lognormal(0, 0.05, 5)) for x in base]
    r = median_ratio_ci(a, b, n_resamples=500, seed=1)
    assert r.low <= r.ratio <= r.high
    assert r.ratio == pytest.approx(2.0, rel=0.1)
    assert r.significant and r.paired
    assert r.ratio == pytest.approx(math.exp(r.log_ci.estimate))
    u = median_ratio_ci(a, b, paired=False, n_resamples=500, method="percentile", seed=1)
    assert u.low <= r.ratio <= u.high


def test_median_ratio_ci_not_significant_for_same_arm() -> None:
    rng = np.random.default_rng(6)
    a = [list(rng.lognormal(0, 0.5, 3)) for _ in range(30)]
    b = [list(rng.lognormal(0, 0.5, 3)) for _ in range(30)]
    r = median_ratio_ci(a, b, n_resamples=500, paired=False)
    assert not r.significant


def test_median_ratio_ci_rejects_unequal_tool_counts_when_paired() -> None:
    with pytest.raises(UsageError, match="same length"):
        median_ratio_ci([[1.0], [2.0], [3.0]], [[1.0], [2.0]], n_resamples=10)


def test_welch_without_scipy_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tcplab.errors import MissingDependencyError

    monkeypatch.setitem(sys.modules, "scipy.stats", None)
    with pytest.raises(MissingDependencyError, match=r"tcplab\[stats\]"):
        welch_log_ttest([1.0, 2.0, 3.0], [2.0, 3.0, 5.0])
