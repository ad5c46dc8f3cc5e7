"""Descriptive statistics and Tukey outliers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import median_abs_deviation

from tcplab.errors import UsageError
from tcplab.stats import describe, tukey_outliers

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@given(st.lists(finite, min_size=2, max_size=80))
@settings(max_examples=60, deadline=None)
def test_describe_matches_numpy_and_scipy(xs: list[float]) -> None:
    d = describe(xs)
    arr = np.array(xs)
    assert d.n == len(xs)
    assert d.mean == pytest.approx(np.mean(arr))
    assert d.sd == pytest.approx(np.std(arr, ddof=1))
    assert d.median == pytest.approx(np.median(arr))
    assert d.p50 == pytest.approx(d.median)
    assert d.mad_raw == pytest.approx(median_abs_deviation(arr), abs=1e-9)
    assert d.mad == pytest.approx(median_abs_deviation(arr, scale="normal"), abs=1e-9)
    assert d.min <= d.p50 <= d.p90 <= d.p95 <= d.p99 <= d.p999 <= d.max


def test_describe_warns_on_few_samples_and_high_cv() -> None:
    d = describe([1.0, 2.0, 3.0])
    assert not d.stable
    assert any("too few samples" in w for w in d.warnings)
    assert any("high variability" in w for w in d.warnings)


def test_describe_is_stable_for_tight_large_sample() -> None:
    d = describe(np.full(50, 1.0) + np.linspace(0, 0.01, 50))
    assert d.stable
    assert d.cv < 0.01


def test_describe_min_n_is_configurable() -> None:
    assert describe([1.0, 1.01, 0.99], min_n=3).stable


def test_describe_single_value_has_nan_sd_and_warns() -> None:
    d = describe([2.0])
    assert math.isnan(d.sd) and math.isnan(d.cv)
    assert d.warnings


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_describe_rejects_empty_and_nonfinite(bad: list[float]) -> None:
    with pytest.raises(UsageError):
        describe(bad)


def test_tukey_labels_mild_and_severe() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 20.0, 30.0]
    r = tukey_outliers(x)
    q1, q3 = np.percentile(x, [25, 75])
    iqr = q3 - q1
    assert (r.q1, r.q3, r.iqr) == pytest.approx((q1, q3, iqr))
    assert r.labels[-1] == "severe"  # 30 > q3 + 3 IQR
    assert r.labels[-2] == "mild"  # 20 between the fences
    assert r.labels[:8] == ("none",) * 8
    assert (r.n_mild, r.n_severe) == (1, 1)


def test_tukey_value_on_fence_is_not_outlier() -> None:
    # q1 = 1, q3 = 2 for [1, 1, 2, 2] -> inner upper fence 3.5
    r = tukey_outliers([1.0, 1.0, 1.0, 2.0, 2.0, 2.0, 3.5])
    assert r.labels[-1] == "none"
