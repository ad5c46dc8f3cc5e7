"""Accuracy report against scikit-learn, and per-tool reduction of trials."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import (
    accuracy_score,
    cohen_kappa_score,
    f1_score,
    matthews_corrcoef,
    precision_recall_fscore_support,
)

from tcplab.errors import UsageError
from tcplab.stats import (
    PARSE_FAILURE,
    UNKNOWN,
    accuracy_report,
    cohen_kappa,
    modal_prediction,
    per_tool_accuracy,
)

LABELS = list(range(5))

truth_and_pred = st.integers(min_value=3, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(st.integers(-2, 4), min_size=n, max_size=n),
    )
)


@given(truth_and_pred)
@settings(max_examples=60, deadline=None)
def test_accuracy_report_matches_sklearn(pair: tuple[list[int], list[int]]) -> None:
    t, p = pair
    r = accuracy_report(t, p, n_resamples=20, method="percentile")
    assert r.accuracy_exact.estimate == pytest.approx(accuracy_score(t, p), abs=1e-12)
    f1 = f1_score(t, p, labels=LABELS, average="macro", zero_division=0)
    assert r.macro_f1.estimate == pytest.approx(f1, abs=1e-9)
    if len(set(t)) > 1 or len(set(p)) > 1:
        assert r.mcc.estimate == pytest.approx(matthews_corrcoef(t, p), abs=1e-9)
    # UNKNOWN / PARSE_FAILURE are extra categories for unweighted kappa
    ext = [-2, -1, *LABELS]
    assert r.kappa.estimate == pytest.approx(cohen_kappa(t, p, labels=ext), abs=1e-9)
    if len(set(t) | set(p)) > 1:
        assert r.kappa.estimate == pytest.approx(cohen_kappa_score(t, p), abs=1e-9)
    prec, rec, f, sup = precision_recall_fscore_support(t, p, labels=LABELS, zero_division=0)
    np.testing.assert_allclose([c.precision for c in r.per_class], prec, atol=1e-9)
    np.testing.assert_allclose([c.recall for c in r.per_class], rec, atol=1e-9)
    np.testing.assert_allclose([c.f1 for c in r.per_class], f, atol=1e-9)
    assert [c.support for c in r.per_class] == list(sup)
    assert r.n_unknown == p.count(UNKNOWN) and r.n_parse_failure == p.count(PARSE_FAILURE)


@given(truth_and_pred)
@settings(max_examples=40, deadline=None)
def test_quadratic_kappa_matches_sklearn_without_unknowns(
    pair: tuple[list[int], list[int]],
) -> None:
    t, p = pair
    p = [max(v, 0) for v in p]
    r = accuracy_report(t, p, n_resamples=20, method="percentile")
    if len(set(t) | set(p)) > 1:
        ref = cohen_kappa_score(t, p, labels=LABELS, weights="quadratic")
        assert r.kappa_quadratic.estimate == pytest.approx(ref, abs=1e-9)


def test_quadratic_kappa_gives_unknown_the_largest_weight() -> None:
    t = [0, 1, 2, 3, 4, 2]
    as_unknown = accuracy_report(t, [0, 1, 2, 3, 4, UNKNOWN], n_resamples=20)
    as_far_miss = accuracy_report(t, [0, 1, 2, 3, 4, 0], n_resamples=20)
    assert as_unknown.kappa_quadratic.estimate < as_far_miss.kappa_quadratic.estimate


def test_within_one_counts_neighbours_but_not_unknown() -> None:
    r = accuracy_report([0, 2, 4, 3], [1, 2, 2, UNKNOWN], n_resamples=20)
    assert r.accuracy_within_one.estimate == pytest.approx(0.5)
    assert r.accuracy_exact.estimate == pytest.approx(0.25)
    assert r.unknown_rate == pytest.approx(0.25)


def test_accuracy_exact_is_mean_over_tools_of_tool_fractions() -> None:
    # tool a: 1 of 1 right; tool b: 1 of 3 right -> (1 + 1/3) / 2, not 2/4
    r = accuracy_report([1, 2, 2, 2], [1, 2, 0, 0], tools=["a", "b", "b", "b"], n_resamples=50)
    assert r.accuracy_exact.estimate == pytest.approx(2 / 3)
    assert r.n_tools == 2 and r.n_samples == 4


def test_accuracy_ci_contains_estimate_and_is_seeded() -> None:
    rng = np.random.default_rng(0)
    t = rng.integers(0, 5, 120)
    p = np.where(rng.random(120) < 0.7, t, rng.integers(0, 5, 120))
    r1 = accuracy_report(t, p, n_resamples=500, seed=4)
    r2 = accuracy_report(t, p, n_resamples=500, seed=4)
    assert r1.accuracy_exact == r2.accuracy_exact
    for ci in (r1.accuracy_exact, r1.macro_f1, r1.mcc, r1.kappa, r1.kappa_quadratic):
        assert ci.low <= ci.estimate <= ci.high
        assert ci.n_clusters == 120


def test_accuracy_report_rejects_unknown_labels() -> None:
    with pytest.raises(UsageError, match="y_pred holds 7"):
        accuracy_report([0, 1], [0, 7])
    with pytest.raises(UsageError, match="y_true holds -1"):
        accuracy_report([0, -1], [0, 1])
    with pytest.raises(UsageError, match="at least 2 tools"):
        accuracy_report([0, 1], [0, 1], tools=["x", "x"])


@pytest.mark.parametrize(
    ("preds", "mode"),
    [([1, 1, 2], 1), ([1, 2], 2), ([3, 0, 0, 3], 3), ([UNKNOWN, 0], 0), ([-2, -1], -1), ([4], 4)],
)
def test_modal_prediction_breaks_ties_toward_more_severe(preds: list[int], mode: int) -> None:
    assert modal_prediction(preds) == mode


def test_per_tool_accuracy_reduces_trials_and_reports_variability() -> None:
    trials = [("ls", 0, 0), ("ls", 0, 0), ("rm", 4, 4), ("rm", 4, 3), ("dd", 3, UNKNOWN)]
    r = per_tool_accuracy(trials)
    assert r.tools == ("ls", "rm", "dd")
    np.testing.assert_allclose(r.fraction_correct, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(r.fraction_within_one, [1.0, 1.0, 0.0])
    assert r.accuracy_exact == pytest.approx(0.5)
    assert list(r.modal) == [0, 4, UNKNOWN]
    assert r.modal_accuracy == pytest.approx(2 / 3)
    assert r.varies == (False, True, False)
    assert r.fraction_varying == pytest.approx(1 / 3)


def test_per_tool_accuracy_rejects_conflicting_truth() -> None:
    with pytest.raises(UsageError, match="two different true labels"):
        per_tool_accuracy([("ls", 0, 0), ("ls", 1, 1)])
    with pytest.raises(UsageError):
        per_tool_accuracy([])
