"""The learned generators (``ordinal``, ``knn``) and the rules-override ensemble.

Trained at generate time on the training labels (default: the shipped ``tcplab-v1.csv``) joined
with the corpus rows of those tools; nothing is downloaded. Each run does grouped
cross-validation on the training tools (:func:`cross_validate`) to choose the abstention
threshold and to measure calibration, then fits on all training tools and predicts every tool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel
from tcplab.errors import MissingDependencyError, UsageError
from tcplab.generator._abstain import (
    GUARDS,
    MAX_UNSAFE,
    MIN_EXACT,
    THRESHOLDS,
    Abstention,
    calibration_error,
    choose_threshold,
    decide_levels,
    safety_figures,
)
from tcplab.generator._base import Generator, Prediction
from tcplab.generator._cache import ModelCache, ModelRecord, model_key
from tcplab.generator._features import (
    FEATURE_VERSION,
    embed_tools,
    embedding_model_version,
    structured_features,
    tool_groups,
)
from tcplab.generator._models import CAPABILITIES, NeighbourModel, OrdinalModel
from tcplab.labels import LabelSet, read_labels

__all__ = [
    "MIN_TRAINING_TOOLS",
    "LearnedGenerator",
    "TrainingSet",
    "cross_validate",
    "cv_protocol",
    "fold_splits",
    "macro_f1",
]

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

    def subset(self, rows: npt.NDArray[np.int64]) -> TrainingSet:
        """The training tools at positions ``rows`` (an outer fold's training part)."""
        return TrainingSet(index=self.index[rows], levels=self.levels[rows],
                           caps=self.caps[rows], groups=self.groups[rows],
                           labels_sha256=self.labels_sha256)  # fmt: skip


def fold_splits(ts: TrainingSet) -> list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]]:
    """Grouped, stratified 5-fold splits of the training tools (seed :data:`CV_SEED`)."""
    try:
        from sklearn.model_selection import StratifiedGroupKFold
    except ImportError as exc:
        raise MissingDependencyError.for_extra(
            "scikit-learn", "ml", "the learned generators"
        ) from exc

    cv = StratifiedGroupKFold(n_splits=N_FOLDS, shuffle=True, random_state=CV_SEED)
    return list(cv.split(np.zeros(len(ts.levels)), ts.levels, ts.groups))


def cv_protocol() -> dict[str, Any]:
    """The CV and abstention-choice constants (part of the model cache key)."""
    return {"folds": N_FOLDS, "seed": CV_SEED, "thresholds": list(THRESHOLDS),
            "guards": list(GUARDS), "max_unsafe": MAX_UNSAFE, "min_exact": MIN_EXACT}  # fmt: skip


def cross_validate(
    make: Callable[[], Model], x: npt.NDArray[np.float64], ts: TrainingSet
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Out-of-fold level and capability probabilities (grouped, stratified 5-fold CV)."""
    oof = np.zeros((len(ts.levels), 5))
    oof_caps = np.zeros((len(ts.levels), len(CAPABILITIES)))
    for train, test in fold_splits(ts):
        model = make().fit(x[train], ts.levels[train], ts.caps[train])
        oof[test], oof_caps[test] = model.predict_proba(x[test])
    return oof, oof_caps


def macro_f1(caps: npt.NDArray[np.bool_], probs: npt.NDArray[np.float64]) -> float:
    """Capability macro-F1 of probabilities thresholded at 0.5 (1.0 for a flag never seen)."""
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
        self.model_cache_status = "not trained"
        self._training: TrainingSet | None = None

    def features(self, tools: Sequence[ToolDoc]) -> npt.NDArray[np.float64]:
        """The model's input matrix for ``tools``."""
        emb32 = embed_tools(tools, self._cache_dir(), threads=self.context.threads)
        emb = emb32.astype(np.float64)
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

    def training_data(
        self, tools: Sequence[ToolDoc]
    ) -> tuple[TrainingSet, npt.NDArray[np.float64]]:
        """The labelled tools of ``tools`` and their feature rows."""
        ts = TrainingSet.build(tools, self._labels())  # before the slow embedding
        return ts, self.features(tools)[ts.index]

    def train(self, tools: Sequence[ToolDoc]) -> tuple[Model, Abstention, npt.NDArray[np.float64]]:
        """The trained model, its abstention setting and the features of ``tools``.

        Loaded from the model cache when an entry for exactly these inputs exists (and
        ``context.model_cache``); else CV, threshold choice and the final fit, then stored.
        """
        ts = TrainingSet.build(tools, self._labels())  # before the slow embedding
        x = self.features(tools)
        xt = x[ts.index]
        self._training = ts
        cache = ModelCache(Path(self._cache_dir()))
        key = model_key(self._cache_settings(ts), xt, ts.levels, ts.caps, ts.groups)
        loaded = self._load(cache, key) if self.context.model_cache else None
        if loaded is not None:
            self.model_cache_status = f"loaded from {cache.directory}"
            return loaded[0], loaded[1], x
        model, setting = self.fit_with_cv(xt, ts)
        record = ModelRecord(
            key=key, kind=model.kind, params=model.params(), threshold=setting.threshold,
            guard=setting.guard, figures=setting.figures, cv_report=self.cv_report,
            info=self._info, arrays_sha256="",
        )  # fmt: skip
        stored = cache.save(record, model.state())
        self.model_cache_status = (
            f"trained, stored in {cache.directory}" if stored else "trained (cache not writable)"
        )
        return model, setting, x

    def _load(self, cache: ModelCache, key: str) -> tuple[Model, Abstention] | None:
        """The cached model and setting for ``key`` (None: absent, corrupt or not this kind)."""
        entry = cache.load(key)
        if entry is None or entry.record.kind != self.model_cls.kind:
            return None
        rec = entry.record
        try:
            model = self.model_cls.from_state(rec.params, entry.arrays)
        except (KeyError, ValueError, IndexError, TypeError):
            return None
        if model.digest() != rec.info.get("model_sha256"):  # the arrays are not that model
            return None
        self.cv_report, self._info = dict(rec.cv_report), dict(rec.info)
        return model, Abstention(threshold=rec.threshold, guard=rec.guard, figures=rec.figures)

    def _cache_settings(self, ts: TrainingSet) -> dict[str, Any]:
        """What the model depends on besides the training arrays (the cache key)."""
        return {
            "generator": self.name, "kind": self.model_cls.kind,
            "params": self.model_cls().params(), "threshold": self.context.threshold,
            "labels_sha256": ts.labels_sha256, "features": FEATURE_VERSION,
            "embedding_model": embedding_model_version(), "cv": cv_protocol(),
        }  # fmt: skip

    def fit_with_cv(self, xt: npt.NDArray[np.float64], ts: TrainingSet) -> tuple[Model, Abstention]:
        """Grouped CV, the abstention choice and the fit on all training tools."""
        oof, oof_caps = cross_validate(self.model_cls, xt, ts)
        setting = choose_threshold(ts.levels, oof, self.context.threshold)
        model = self.model_cls().fit(xt, ts.levels, ts.caps)
        self.cv_report = {
            "n_training_tools": len(ts.levels),
            "n_groups": len(set(ts.groups.tolist())),
            "folds": N_FOLDS,
            "abstention": setting.to_dict(),
            "calibration": calibration_error(ts.levels, oof),
            "capability_macro_f1": macro_f1(ts.caps, oof_caps),
            "no_abstention": safety_figures(ts.levels, decide_levels(oof, 0.0, 1.0)),
        }
        self._info = {
            "generator": self.name, "model": model.kind, "model_sha256": model.digest(),
            "threshold": setting.threshold, "guard": setting.guard,
            "labels_sha256": ts.labels_sha256, "features": FEATURE_VERSION,
        }  # fmt: skip
        return model, setting

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
        ts = self._training
        assert ts is not None
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
