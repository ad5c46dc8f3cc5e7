"""Confusion matrix and Cohen's kappa against scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from tcplab.errors import UsageError
from tcplab.stats import cohen_kappa, confusion_matrix

LABELS = [0, 1, 2, 3, 4]

paired_labels = st.integers(min_value=1, max_value=60).flatmap(
    lambda n: st.tuples(
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
        st.lists(st.integers(0, 4), min_size=n, max_size=n),
    )
)


@given(paired_labels)
@settings(max_examples=60, deadline=None)
def test_confusion_matrix_matches_sklearn_rows_true_cols_pred(
    pair: tuple[list[int], list[int]],
) -> None:
    t, p = pair
    got = confusion_matrix(t, p, LABELS)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, sk_confusion_matrix(t, p, labels=LABELS))


def test_confusion_matrix_follows_label_order() -> None:
    got = confusion_matrix([0, 0, 1], [1, 0, 1], labels=[1, 0])
    np.testing.assert_array_equal(got, [[1, 0], [1, 1]])


def test_confusion_matrix_rejects_value_outside_labels() -> None:
    with pytest.raises(UsageError, match="not in labels"):
        confusion_matrix([0, -1], [0, 0], labels=LABELS)


@pytest.mark.parametrize(
    ("t", "p"),
    [([], []), ([0, 1], [0]), ([0.5], [0]), ([float("nan")], [0])],
)
def test_confusion_matrix_rejects_bad_input(t: list[float], p: list[float]) -> None:
    with pytest.raises(UsageError):
        confusion_matrix(t, p, LABELS)  # type: ignore[arg-type]


@given(paired_labels, st.sampled_from([None, "linear", "quadratic"]))
@settings(max_examples=100, deadline=None)
def test_cohen_kappa_matches_sklearn(
    pair: tuple[list[int], list[int]], weights: str | None
) -> None:
    a, b = pair
    expected_dis_zero = len(set(a) | set(b)) == 1
    got = cohen_kappa(a, b, labels=LABELS, weights=weights)  # type: ignore[arg-type]
    if expected_dis_zero:
        assert got == 1.0
        return
    with np.errstate(all="ignore"):
        ref = cohen_kappa_score(a, b, labels=LABELS, weights=weights)
    if np.isnan(ref):
        assert got in (0.0, 1.0)
    else:
        assert got == pytest.approx(ref, abs=1e-12)


def test_cohen_kappa_default_labels_match_sklearn() -> None:
    a = [0, 1, 2, 2, 3, 4, 4, 1]
    b = [0, 2, 2, 1, 3, 4, 3, 1]
    for w in (None, "linear", "quadratic"):
        assert cohen_kappa(a, b, weights=w) == pytest.approx(  # type: ignore[arg-type]
            cohen_kappa_score(a, b, weights=w), abs=1e-12
        )


def test_cohen_kappa_is_one_for_perfect_agreement_on_single_label() -> None:
    assert cohen_kappa([2, 2, 2], [2, 2, 2]) == 1.0
    assert cohen_kappa([2, 2, 2], [2, 2, 2], labels=LABELS, weights="quadratic") == 1.0


def test_cohen_kappa_is_minus_one_for_total_swap() -> None:
    assert cohen_kappa([0, 1, 0, 1], [1, 0, 1, 0]) == pytest.approx(-1.0)


def test_cohen_kappa_rejects_unknown_weights() -> None:
    with pytest.raises(UsageError, match="weights"):
        cohen_kappa([0, 1], [0, 1], weights="cubic")  # type: ignore[arg-type]


def test_cohen_kappa_rejects_mismatched_lengths() -> None:
    with pytest.raises(UsageError, match="same length"):
        cohen_kappa([0, 1], [0])
