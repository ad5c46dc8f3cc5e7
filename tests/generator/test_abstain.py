"""Abstention and the coverage-accuracy curve: never an approving level on doubt."""

from __future__ import annotations

import numpy as np
import pytest

from tcplab.descriptor import Decision, RiskLevel, decide
from tcplab.errors import UsageError
from tcplab.generator import (
    calibration_error,
    choose_threshold,
    coverage_curve,
    decide_levels,
    generator_names,
    get_generator,
    nested_cross_validate,
    reliability,
)
from tcplab.generator._models import NeighbourModel, OrdinalModel


def _probs(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(5) * 0.5, size=n)
    return p


def test_decide_never_approves_with_danger_above_guard() -> None:
    p = _probs(5000)
    for threshold in (0.0, 0.3, 0.6):
        for guard in (0.02, 0.1, 0.5):
            levels = decide_levels(p, threshold, guard)
            approved = (levels >= 0) & (levels <= 1)
            assert (p[approved, 3:].sum(axis=1) <= guard).all()
            assert (p[levels >= 0].max(axis=1) >= threshold).all()
            for lv in set(levels.tolist()) - set(range(5)):
                assert decide(RiskLevel(lv)) is Decision.REQUIRE_APPROVAL


def test_choose_threshold_meets_the_unsafe_target_when_it_can() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 5, size=400)
    p = np.full((400, 5), 0.05)
    p[np.arange(400), y] = 0.8  # a confident and right model, noisy on a fifth of the tools
    noisy = rng.random(400) < 0.2
    p[noisy] = _probs(int(noisy.sum()), 2)
    s = choose_threshold(y, p)
    assert s.figures["unsafe_approval_rate"] <= 0.01
    assert s.figures["exact_covered"] >= 0.8
    assert s.figures["coverage"] > 0.7
    fixed = choose_threshold(y, p, fixed=0.9)
    assert fixed.threshold == 0.9 and fixed.figures["coverage"] < s.figures["coverage"]


def test_coverage_curve_sorts_by_confidence_and_puts_unknown_last() -> None:
    curve = coverage_curve([0, 1, 2, 3], [0, 1, -1, 0], [0.9, 0.8, 0.99, 0.1], points=4)
    assert [c["coverage"] for c in curve] == [0.25, 0.5, 0.75, 1.0]
    assert [c["exact"] for c in curve] == [1.0, 1.0, 2 / 3, 0.5]
    assert coverage_curve([], [], []) == []


def test_calibration_error_is_zero_for_a_calibrated_model() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.5, 0.5, 0, 0, 0]] * 4)
    cal = calibration_error(y, p)
    assert cal["ece"] == pytest.approx(0.0)


def test_reliability_bins_agree_with_the_calibration_error() -> None:
    y = np.array([0, 0, 1, 1, 2])
    p = np.array([[0.95, 0.05, 0, 0, 0], [0.9, 0.1, 0, 0, 0], [0.5, 0.45, 0.05, 0, 0],
                  [0.1, 0.6, 0.3, 0, 0], [0.0, 0.35, 0.65, 0, 0]])  # fmt: skip
    bins = reliability(y, p)
    assert [(b["lo"], b["n"]) for b in bins] == [
        pytest.approx((lo, 1)) for lo in (0.4, 0.5, 0.6, 0.8, 0.9)
    ]
    assert bins[0]["accuracy"] == 0.0 and bins[-1]["accuracy"] == 1.0
    ece = sum(b["n"] / len(y) * abs(b["accuracy"] - b["confidence"]) for b in bins)
    assert ece == pytest.approx(calibration_error(y, p)["ece"])


@pytest.mark.slow
@pytest.mark.parametrize("model_cls", [OrdinalModel, NeighbourModel])
def test_nested_cv_tests_every_tool_once_with_inner_choices(
    model_cls: type[OrdinalModel] | type[NeighbourModel],
) -> None:
    from tcplab.generator._learned import TrainingSet

    rng = np.random.default_rng(5)
    n = 150
    levels = rng.integers(0, 5, n)
    x = rng.normal(size=(n, 8)) + levels[:, None] * 0.3
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ts = TrainingSet(index=np.arange(n), levels=levels, caps=rng.random((n, 6)) < 0.3,
                     groups=np.arange(n) // 2, labels_sha256="x")  # fmt: skip
    res = nested_cross_validate(model_cls, x, ts)
    assert len(res.folds) == 5 and sum(f["n_test"] for f in res.folds) == n
    assert 0.0 <= res.figures["coverage"] <= 1.0 and 0.0 <= res.calibration["ece"] <= 1.0
    for f in res.folds:
        assert 0.0 <= f["threshold"] <= 0.95
        assert f["params"] == ({} if model_cls is NeighbourModel else {"c": f["params"]["c"]})
    fixed = nested_cross_validate(model_cls, x, ts, fixed=0.6)
    assert {f["threshold"] for f in fixed.folds} == {0.6}


@pytest.mark.parametrize("model", [OrdinalModel(), NeighbourModel(k=3)])
def test_models_give_probability_distributions(model: OrdinalModel | NeighbourModel) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(60, 8))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    y = (x[:, 0] > 0).astype(np.int64) * 3 + (x[:, 1] > 0)
    caps = np.column_stack([y >= 3] + [np.zeros(60, dtype=bool)] * 5)
    levels, cp = model.fit(x, y, caps).predict_proba(x)
    assert levels.shape == (60, 5) and cp.shape == (60, 6)
    assert np.allclose(levels.sum(axis=1), 1.0) and (levels >= 0).all()
    assert (levels.argmax(axis=1) == y).mean() > 0.7
    assert len(model.digest()) == 64


def test_registry_of_generators() -> None:
    assert generator_names() == ["ensemble", "knn", "llm", "ordinal", "rules"]
    assert get_generator("rules").info()["rules_version"] == "3.0"
    with pytest.raises(UsageError, match="choose one of ensemble, knn, llm, ordinal, rules"):
        get_generator("nope")
