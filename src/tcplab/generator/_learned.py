"""The learned generators (``ordinal``, ``knn``) and the rules-override ensemble.

Trained at generate time on the training labels (default: the shipped ``tcplab-v1.csv``) joined
with the corpus rows of those tools; nothing is downloaded. Each run does grouped
cross-validation on the training tools (:func:`cross_validate`) to choose the abstention
threshold and to measure calibration, then fits on all training tools and predicts every tool.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel
from tcplab.errors import MissingDependencyError, UsageError
from tcplab.generator._abstain import (
    Abstention,
    calibration_error,
    choose_threshold,
    decide_levels,
    safety_figures,
)
from tcplab.generator._base import Generator, Prediction
from tcplab.generator._features import (
    FEATURE_VERSION,
    embed_tools,
    structured_features,
    tool_groups,
)
from tcplab.generator._models import CAPABILITIES, NeighbourModel, OrdinalModel
from tcplab.labels import LabelSet, read_labels

__all__ = ["MIN_TRAINING_TOOLS", "LearnedGenerator", "TrainingSet", "cross_validate"]

MIN_TRAINING_TOOLS = 50
N_FOLDS = 5
CV_SEED = 2026
Model = OrdinalModel | NeighbourModel


@dataclass(frozen=True)
class TrainingSet:
    """The labelled tools found in the corpus: their row indices, levels, capabilities, groups."""

    index: npt.NDArray[np.int64]
    levels: npt.NDArray[np.int64]
    caps: npt.NDArray[np.bool_]
    groups: npt.NDArray[np.int64]
    labels_sha256: str

    @classmethod
    def build(cls, tools: Sequence[ToolDoc], labels: LabelSet) -> TrainingSet:
        """Join labels and corpus rows (documented tools only).

        Raises:
            UsageError: fewer than :data:`MIN_TRAINING_TOOLS` labelled tools are in the corpus.
        """
        groups = tool_groups(tools)
        idx = [i for i, t in enumerate(tools) if t.name in labels and t.doc_source != "none"]
        if len(idx) < MIN_TRAINING_TOOLS:
            raise UsageError(
                f"only {len(idx)} tools of {labels.path.name} are documented in this corpus; a "
                f"learned generator needs {MIN_TRAINING_TOOLS} (scan the machine's PATH)"
            )
        got = [labels.labels[tools[i].name] for i in idx]
        return cls(
            index=np.asarray(idx, dtype=np.int64),
            levels=np.asarray([int(lb.risk_level) for lb in got], dtype=np.int64),
            caps=np.asarray([[c in lb.capabilities for c in CAPABILITIES] for lb in got]),
            groups=np.asarray([groups[i] for i in idx], dtype=np.int64),
            labels_sha256=labels.sha256,
        )


def _folds(ts: TrainingSet) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    try:
        from sklearn.model_selection import StratifiedGroupKFold
    except ImportError as exc:
        raise MissingDependencyError.for_extra(
            "scikit-learn", "ml", "the learned generators"
        ) from exc

    cv = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=CV_SEED)
    return list(cv.split(np.zeros(len(ts.levels)), ts.levels, ts.groups))


def cross_validate(
    make: type[Model], x: npt.NDArray[np.float64], ts: TrainingSet
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Out-of-fold level and capability probabilities (grouped, stratified 5-fold CV)."""
    oof = np.zeros((len(ts.levels), 5))
    oof_caps = np.zeros((len(ts.levels), len(CAPABILITIES)))
    for train, test in _folds(ts):
        model = make().fit(x[train], ts.levels[train], ts.caps[train])
        oof[test], oof_caps[test] = model.predict_proba(x[test])
    return oof, oof_caps


def _macro_f1(caps: npt.NDArray[np.bool_], probs: npt.NDArray[np.float64]) -> float:
    pred = probs >= 0.5
    f1s = []
    for j in range(caps.shape[1]):
        tp = float((pred[:, j] & caps[:, j]).sum())
        fp, fn = float((pred[:, j] & ~caps[:, j]).sum()), float((~pred[:, j] & caps[:, j]).sum())
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 1.0)
    return float(np.mean(f1s))


class LearnedGenerator(Generator):
    """A model trained on the labels, with abstention chosen by grouped CV."""

    model_cls: type[Model] = OrdinalModel

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._info: dict[str, Any] = {"generator": self.name}
        self.cv_report: dict[str, Any] = {}

    def features(self, tools: Sequence[ToolDoc]) -> npt.NDArray[np.float64]:
        """The model's input matrix for ``tools``."""
        emb = embed_tools(tools, self._cache_dir()).astype(np.float64)
        if self.model_cls is NeighbourModel:
            return emb
        return np.hstack([emb, structured_features(tools)])

    def _cache_dir(self) -> Any:
        if self.context.cache_dir is not None:
            return self.context.cache_dir
        from tcplab.config import get_settings

        return get_settings().home / "cache" / "generator"

    def _labels(self) -> LabelSet:
        from tcplab.resources import shipped_labels

        return read_labels(self.context.labels or shipped_labels("tcplab-v1.csv"))

    def train(self, tools: Sequence[ToolDoc]) -> tuple[Model, Abstention, npt.NDArray[np.float64]]:
        """CV, threshold choice and the final fit; returns the model, setting and features."""
        ts = TrainingSet.build(tools, self._labels())  # before the slow embedding
        x = self.features(tools)
        xt = x[ts.index]
        oof, oof_caps = cross_validate(self.model_cls, xt, ts)
        setting = choose_threshold(ts.levels, oof, self.context.threshold)
        model = self.model_cls().fit(xt, ts.levels, ts.caps)
        self.cv_report = {
            "n_training_tools": len(ts.levels),
            "n_groups": len(set(ts.groups.tolist())),
            "folds": N_FOLDS,
            "abstention": setting.to_dict(),
            "calibration": calibration_error(ts.levels, oof),
            "capability_macro_f1": _macro_f1(ts.caps, oof_caps),
            "no_abstention": safety_figures(ts.levels, decide_levels(oof, 0.0, 1.0)),
        }
        self._info = {
            "generator": self.name, "model": model.kind, "model_sha256": model.digest(),
            "threshold": setting.threshold, "guard": setting.guard,
            "labels_sha256": ts.labels_sha256, "features": FEATURE_VERSION,
        }  # fmt: skip
        self._oof = (ts, oof)
        return model, setting, x

    def info(self) -> dict[str, Any]:
        return dict(self._info)

    def predict(self, tools: Sequence[ToolDoc]) -> list[Prediction]:
        model, setting, x = self.train(tools)
        probs, caps = model.predict_proba(x)
        levels = decide_levels(probs, setting.threshold, setting.guard)
        extra = self._explain_extra(model, x, tools)
        out: list[Prediction] = []
        for i, doc in enumerate(tools):
            out.append(self._prediction(doc, probs[i], caps[i], int(levels[i]), setting, extra[i]))
        return out

    def _explain_extra(self, model: Model, x: Any, tools: Sequence[ToolDoc]) -> list[str]:
        if not isinstance(model, NeighbourModel):
            return [""] * len(tools)
        idx, sims = model.neighbours(x)
        ts, _ = self._oof
        names = [tools[int(i)].name for i in ts.index]
        return [
            "closest labelled tools: " + ", ".join(
                f"{names[j]} ({RiskLevel(int(ts.levels[j])).name}, {s:.2f})"
                for j, s in zip(row[:3], srow[:3], strict=True)
            )
            for row, srow in zip(idx, sims, strict=True)
        ]  # fmt: skip

    def _prediction(
        self, doc: ToolDoc, p: Any, c: Any, level: int, setting: Abstention, extra: str
    ) -> Prediction:
        top = int(p.argmax())
        if doc.doc_source == "none":
            level, why = -1, "no documentation"
        elif level < 0:
            danger = float(p[3:].sum())
            why = (
                f"abstained: {RiskLevel(top).name} p={p[top]:.2f} < {setting.threshold}"
                if p[top] < setting.threshold
                else f"abstained: P(HIGH or CRITICAL)={danger:.2f} > guard {setting.guard}"
            )
        else:
            why = f"{RiskLevel(level).name} p={p[level]:.2f} (threshold {setting.threshold})"
        caps = tuple(n for n, pc in zip(CAPABILITIES, c, strict=True) if pc >= 0.5)
        record = {
            **self._info, "reason": f"{why}; {extra}" if extra else why,
            "confidence": float(p[top]), "p_danger": float(p[3:].sum()),
            "probabilities": {RiskLevel(k).name: round(float(v), 4) for k, v in enumerate(p)},
        }  # fmt: skip
        return Prediction(RiskLevel(level), caps, record)


class OrdinalGenerator(LearnedGenerator):
    """MiniLM embedding + structured features → ordinal logistic model."""

    name = "ordinal"
    description = "ordinal logistic model on MiniLM embeddings + man/dpkg features"
    model_cls = OrdinalModel


class NeighbourGenerator(LearnedGenerator):
    """Nearest labelled neighbours on MiniLM embeddings."""

    name = "knn"
    description = "nearest labelled tools (MiniLM cosine), explained by the closest ones"
    model_cls = NeighbourModel
