"""Nested cross-validation of a learned generator: an unbiased estimate on the training labels.

The generator's own CV figures are optimistic: the abstention threshold and guard (and, when
it was chosen, the ordinal model's C) are picked on the same out-of-fold predictions they are
scored on. Here every choice is made inside an outer training part only:

* outer: grouped, stratified 5-fold CV on the training tools (the generator's folds: seed
  2026, tools that share a file or a man page are one group);
* inner, in each outer training part: grouped, stratified 5-fold CV for every candidate
  hyperparameter (``ordinal``: C in :data:`C_GRID`; ``knn``: none), the abstention setting
  chosen on the inner out-of-fold probabilities with the generator's rule
  (:func:`choose_threshold`), and the candidate whose setting ranks best by that same rule
  (meets ≤ 1 % unsafe approvals and ≥ 0.80 exact, then fewest unsafe approvals, then highest
  coverage; ties: the first candidate);
* the model is fitted on the outer training part with that choice and decides the outer test
  fold, which took no part in any choice.

The figures are computed once over all outer test predictions (each tool is tested once).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.corpus import ToolDoc
from tcplab.errors import UsageError
from tcplab.generator._abstain import (
    MAX_UNSAFE,
    MIN_EXACT,
    Abstention,
    calibration_error,
    choose_threshold,
    decide_levels,
    safety_figures,
)
from tcplab.generator._base import Generator
from tcplab.generator._learned import (
    LearnedGenerator,
    Model,
    TrainingSet,
    cross_validate,
    fold_splits,
    macro_f1,
)
from tcplab.generator._models import CAPABILITIES, N_LEVELS, OrdinalModel

__all__ = ["C_GRID", "NestedResult", "nested_cross_validate", "training_cv"]

#: the ordinal model's candidate regularisation strengths (the grid C = 0.1 was chosen from)
C_GRID = (0.01, 0.03, 0.1, 0.3, 1.0)


@dataclass(frozen=True)
class NestedResult:
    """Figures of the outer test predictions and what each outer fold chose."""

    figures: dict[str, float]
    calibration: dict[str, float]
    capability_macro_f1: float
    no_abstention: dict[str, float]
    folds: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {"figures": self.figures, "calibration": self.calibration,
                "capability_macro_f1": self.capability_macro_f1,
                "no_abstention": self.no_abstention, "folds": self.folds}  # fmt: skip


def candidates(model_cls: type[Model]) -> list[dict[str, Any]]:
    """The hyperparameter settings the inner folds choose among."""
    if model_cls is OrdinalModel:
        return [{"c": c} for c in C_GRID]
    return [{}]


def _rank(setting: Abstention) -> tuple[float, float, float]:
    fig = setting.figures
    ok = fig["unsafe_approval_rate"] <= MAX_UNSAFE and fig["exact_covered"] >= MIN_EXACT
    return float(ok), 0.0 if ok else -fig["unsafe_approval_rate"], fig["coverage"]


def _choose(
    model_cls: type[Model], x: npt.NDArray[np.float64], ts: TrainingSet, fixed: float | None
) -> tuple[dict[str, Any], Abstention]:
    """Inner CV: the best candidate and its abstention setting."""
    best: tuple[tuple[float, float, float], dict[str, Any], Abstention] | None = None
    for params in candidates(model_cls):
        oof, _ = cross_validate(functools.partial(model_cls, **params), x, ts)
        setting = choose_threshold(ts.levels, oof, fixed)
        if best is None or _rank(setting) > best[0]:
            best = (_rank(setting), params, setting)
    assert best is not None
    return best[1], best[2]


def nested_cross_validate(
    model_cls: type[Model],
    x: npt.NDArray[np.float64],
    ts: TrainingSet,
    fixed: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> NestedResult:
    """Nested grouped CV of ``model_cls`` on the training rows ``x`` (see the module docstring).

    ``fixed``: a fixed abstention threshold (the generator's ``--threshold``); the guard is
    still chosen in the inner folds.
    """
    n = len(ts.levels)
    probs, caps = np.zeros((n, N_LEVELS)), np.zeros((n, len(CAPABILITIES)))
    pred = np.full(n, -1, dtype=np.int64)
    folds: list[dict[str, Any]] = []
    with warnings.catch_warnings():  # a rare class may be thinner than 5 in an inner part
        warnings.filterwarnings("ignore", message="The least populated class")
        outer = fold_splits(ts)
        for i, (train, test) in enumerate(outer):
            params, setting = _choose(model_cls, x[train], ts.subset(train), fixed)
            model = model_cls(**params).fit(x[train], ts.levels[train], ts.caps[train])
            probs[test], caps[test] = model.predict_proba(x[test])
            pred[test] = decide_levels(probs[test], setting.threshold, setting.guard)
            folds.append({"fold": i, "n_test": len(test), "params": params,
                          "threshold": setting.threshold, "guard": setting.guard})  # fmt: skip
            if progress is not None:
                progress(i + 1, len(outer))
    return NestedResult(
        figures=safety_figures(ts.levels, pred),
        calibration=calibration_error(ts.levels, probs),
        capability_macro_f1=macro_f1(ts.caps, caps),
        no_abstention=safety_figures(ts.levels, decide_levels(probs, 0.0, 1.0)),
        folds=folds,
    )


def training_cv(
    gen: Generator,
    tools: Sequence[ToolDoc],
    *,
    nested: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """The grouped CV figures of a learned generator on its training labels (no registry).

    ``optimistic``: the generator's own CV (what ``generate`` prints: the setting is chosen on
    the out-of-fold predictions it is scored on); with ``nested``, also ``nested``
    (:func:`nested_cross_validate`, the unbiased estimate).

    Raises:
        UsageError: ``gen`` is not a learned generator (``ordinal`` or ``knn``).
    """
    if not isinstance(gen, LearnedGenerator):
        raise UsageError(
            f"cross-validation needs a learned generator (ordinal or knn), not {gen.name!r}; "
            "the ensemble's model is ordinal, and its rule overrides were written on these labels"
        )
    ts, xt = gen.training_data(tools)
    gen.fit_with_cv(xt, ts)
    out: dict[str, Any] = {
        "generator": gen.name,
        "model": gen.model_cls.kind,
        "labels_sha256": ts.labels_sha256,
        "optimistic": gen.cv_report,
    }
    if nested:
        result = nested_cross_validate(gen.model_cls, xt, ts, gen.context.threshold, progress)
        out["nested"] = result.to_dict()
    return out
