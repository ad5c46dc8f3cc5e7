"""Paired arm comparison, multiple comparisons, power and cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from tcplab.errors import UsageError
from tcplab.stats import (
    adjust_pvalues,
    arm_agreement,
    benjamini_hochberg,
    cohen_kappa,
    cost_per_decision,
    cpu_cost,
    holm,
    mcnemar,
    paired_accuracy_difference,
    tools_for_accuracy_difference,
    tools_for_latency_ratio,
    tost_equivalence,
)

bools = st.integers(2, 120).flatmap(
    lambda n: st.tuples(
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
    )
)


@given(bools)
@settings(max_examples=80, deadline=None)
def test_mcnemar_matches_statsmodels(pair: tuple[list[bool], list[bool]]) -> None:
    a, b = pair
    r = mcnemar(a, b)
    n10 = sum(x and not y for x, y in zip(a, b, strict=True))
    n01 = sum(y and not x for x, y in zip(a, b, strict=True))
    table = [[0, n10], [n01, 0]]
    exact = n10 + n01 < 25
    assert r.method == ("exact" if exact else "chi2")
    ref = sm_mcnemar(table, exact=exact, correction=True)
    assert r.statistic == pytest.approx(ref.statistic, abs=1e-9)
    assert r.p_value == pytest.approx(ref.pvalue, abs=1e-9)
    assert r.significant == (r.p_value < 0.05)


def test_mcnemar_reports_not_significant_without_discordance() -> None:
    r = mcnemar([True, False, True], [True, False, True])
    assert r.p_value == 1.0 and not r.significant


def test_paired_difference_ci_contains_mean_difference() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(80) < 0.8
    b = rng.random(80) < 0.6
    r = paired_accuracy_difference(a, b, n_resamples=1000)
    assert r.estimate == pytest.approx(a.mean() - b.mean())
    assert r.low <= r.estimate <= r.high


def test_tost_declares_equivalence_for_identical_arms_only() -> None:
    rng = np.random.default_rng(1)
    a = rng.random(400) < 0.8
    flip = rng.random(400) < 0.02
    same = tost_equivalence(a, a ^ flip, n_resamples=1000)
    assert same.equivalent and same.ci.confidence == pytest.approx(0.90)
    b = rng.random(400) < 0.6
    differ = tost_equivalence(a, b, n_resamples=1000)
    assert not differ.equivalent


def test_tost_rejects_bad_margin() -> None:
    with pytest.raises(UsageError, match="margin"):
        tost_equivalence([1, 0], [1, 1], margin=0)


def test_arm_agreement_uses_cohen_kappa() -> None:
    a, b = [0, 1, 2, 3, 4, 4], [0, 1, 2, 2, 4, 3]
    r = arm_agreement(a, b)
    assert r.raw_agreement == pytest.approx(4 / 6)
    assert r.kappa == cohen_kappa(a, b)
    assert r.kappa_quadratic == cohen_kappa(a, b, weights="quadratic")


@given(st.lists(st.floats(0, 1, allow_nan=False), min_size=1, max_size=40))
@settings(max_examples=25, deadline=None)  # statsmodels' holm takes ~50 ms per call
def test_holm_and_bh_match_statsmodels(p: list[float]) -> None:
    sm_holm = multipletests(p, alpha=0.05, method="holm")
    sm_bh = multipletests(p, alpha=0.05, method="fdr_bh")
    np.testing.assert_allclose(holm(p), sm_holm[1], atol=1e-12)
    np.testing.assert_allclose(benjamini_hochberg(p), sm_bh[1], atol=1e-12)
    assert list(adjust_pvalues(p, method="holm").significant) == list(sm_holm[0])
    assert list(adjust_pvalues(p, method="bh").significant) == list(sm_bh[0])


def test_adjust_pvalues_rejects_out_of_range() -> None:
    with pytest.raises(UsageError):
        holm([0.5, 1.5])


def test_connor_sample_size_matches_hand_computation() -> None:
    # delta = 0.10, psi = 0.20, alpha = 0.05, power = 0.80
    za, zb = 1.959963984540054, 0.8416212335729143
    expected = (za * math.sqrt(0.2) + zb * math.sqrt(0.2 - 0.01)) ** 2 / 0.01
    assert tools_for_accuracy_difference(0.10, 0.20) == math.ceil(expected)
    assert tools_for_accuracy_difference(0.05, 0.20) > tools_for_accuracy_difference(0.10, 0.20)


def test_latency_ratio_sample_size_matches_normal_formula() -> None:
    za, zb = 1.959963984540054, 0.8416212335729143
    n = 2 * (za + zb) ** 2 * 0.5**2 / math.log(1.2) ** 2
    assert tools_for_latency_ratio(1.2, 0.5) == math.ceil(n)
    assert tools_for_latency_ratio(1 / 1.2, 0.5, paired=True) == math.ceil(n / 2)


def test_sample_size_rejects_impossible_inputs() -> None:
    with pytest.raises(UsageError):
        tools_for_accuracy_difference(0.3, 0.2)
    with pytest.raises(UsageError):
        tools_for_latency_ratio(1.0, 0.5)


def test_cost_per_decision_and_per_correct_decision() -> None:
    r = cost_per_decision(10.0, 100, 80)
    assert (r.per_decision, r.per_correct_decision) == pytest.approx((0.1, 0.125))
    assert cost_per_decision(1.0, 5, 0).per_correct_decision == math.inf
    with pytest.raises(UsageError):
        cost_per_decision(1.0, 5, 6)


def test_cpu_cost_converts_core_seconds_to_dollars() -> None:
    assert cpu_cost(7200.0, 0.05) == pytest.approx(0.10)
    with pytest.raises(UsageError):
        cpu_cost(-1.0, 0.05)
