"""The ``trained`` mode's head: logistic regressions on sentence embeddings, saved as ``.npz``.

File format (``tcplab-embedding-head/1``), one NumPy ``.npz`` archive read with
``allow_pickle=False`` (no code runs on load):

* ``risk_coef`` ``(k, 384)`` / ``risk_intercept`` ``(k,)``: multinomial logistic regression
  over the ``k`` risk classes seen in training (probabilities = softmax of ``X @ coef.T + b``);
* ``cap_coef`` ``(6, 384)`` / ``cap_intercept`` ``(6,)``: one binary logistic regression per
  capability (probability = sigmoid); a capability with a single class in the training set is
  a constant (zero weights, intercept ±30);
* ``meta``: a JSON string: format, model id and package version, text recipe, labels file and
  its SHA-256, split, the training commands with their corpus document SHA-256s, the commands
  skipped (no documentation / not in the corpus), the regularization ``C``, and
  ``training_set_sha256``.

``training_set_sha256`` is the SHA-256 of the canonical JSON of ``{"labels_sha256": ...,
"commands": [sorted training commands], "doc_sha256": [their document hashes, same order]}``;
it is checked again when the head is loaded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.analyzers._inputs import to_input
from tcplab.analyzers.embedding._model import (
    MODEL_ID,
    encode,
    load_model,
    model_package_version,
)
from tcplab.analyzers.embedding._text import TEXT_RECIPE, build_text
from tcplab.config import get_settings
from tcplab.corpus import read_corpus
from tcplab.descriptor import Capability
from tcplab.errors import MissingDependencyError, UsageError
from tcplab.labels import Split, read_labels

__all__ = [
    "CAPABILITIES",
    "HEAD_FORMAT",
    "Head",
    "default_head_dir",
    "load_head",
    "train_head",
    "training_set_sha256",
]

HEAD_FORMAT = "tcplab-embedding-head/1"
CAPABILITIES: tuple[str, ...] = tuple(str(c.name) for c in Capability)
#: Inverse regularization strength of every logistic regression; 5-fold CV on the dev split
#: over 1, 4, 16, 64, 256 chose 4 (risk accuracy 0.784).
DEFAULT_C = 4.0
_CONST = 30.0

Array = npt.NDArray[np.float64]


def default_head_dir() -> Path:
    """``TCPLAB_HOME/models``: where heads are saved by default."""
    return get_settings().home / "models"


def training_set_sha256(
    labels_sha256: str, commands: Sequence[str], doc_sha256: Sequence[str]
) -> str:
    """The identity of a training set (see the module docstring); commands sorted by caller."""
    doc = {
        "labels_sha256": labels_sha256,
        "commands": list(commands),
        "doc_sha256": list(doc_sha256),
    }
    canon = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canon.encode("utf-8")).hexdigest()


def _softmax(z: Array) -> Array:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Array = e / e.sum(axis=1, keepdims=True)
    return out


@dataclass(frozen=True)
class Head:
    """A loaded head: weights plus the metadata recorded at training time."""

    path: Path
    meta: dict[str, Any]
    risk_classes: tuple[str, ...]
    risk_coef: Array
    risk_intercept: Array
    cap_coef: Array
    cap_intercept: Array

    @property
    def training_set_sha256(self) -> str:
        """SHA-256 identifying the training set."""
        return str(self.meta["training_set_sha256"])

    @property
    def commands(self) -> frozenset[str]:
        """The commands the head was trained on."""
        return frozenset(self.meta["commands"])

    @property
    def doc_hashes(self) -> frozenset[str]:
        """Corpus document SHA-256s of the training commands."""
        return frozenset(self.meta["doc_sha256"])

    def predict(self, x: npt.NDArray[np.float32]) -> tuple[Array, Array]:
        """Risk-class probabilities ``(n, k)`` and capability probabilities ``(n, 6)``."""
        xf = x.astype(np.float64)
        risk = _softmax(xf @ self.risk_coef.T + self.risk_intercept)
        caps = 1.0 / (1.0 + np.exp(-(xf @ self.cap_coef.T + self.cap_intercept)))
        return risk, caps


def load_head(path: str | os.PathLike[str]) -> Head:
    """Read and check a head file.

    Raises:
        UsageError: the file is missing, not a head, or its training-set hash does not match.
    """
    p = Path(path)
    try:
        with np.load(p, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except FileNotFoundError as exc:
        raise UsageError(f"embedding head {p} does not exist") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"{p} is not an embedding head file: {exc}") from exc
    try:
        meta = json.loads(str(arrays["meta"]))
        ok = meta.get("format") == HEAD_FORMAT
        classes = tuple(str(c) for c in meta["risk_classes"])
        head = Head(
            p, meta, classes,
            arrays["risk_coef"].astype(np.float64), arrays["risk_intercept"].astype(np.float64),
            arrays["cap_coef"].astype(np.float64), arrays["cap_intercept"].astype(np.float64),
        )  # fmt: skip
    except (KeyError, ValueError, TypeError) as exc:
        raise UsageError(f"{p} is not a {HEAD_FORMAT} file: {exc}") from exc
    if not ok or head.risk_coef.shape[0] != len(classes) or head.cap_coef.shape[0] != 6:
        raise UsageError(f"{p} is not a {HEAD_FORMAT} file")
    expect = training_set_sha256(meta["labels_sha256"], meta["commands"], meta["doc_sha256"])
    if expect != meta.get("training_set_sha256"):
        raise UsageError(f"{p}: training-set hash does not match its recorded training set")
    return head


def _fit(x: Array, y: Sequence[Any], c: float) -> tuple[Array, Array, list[Any]]:
    """Fit one logistic regression; returns (coef, intercept, classes) in softmax form."""
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError as exc:
        raise MissingDependencyError.for_extra(
            "scikit-learn", "ml", "training the embedding head"
        ) from exc
    classes = sorted(set(y))
    if len(classes) == 1:
        return np.zeros((1, x.shape[1])), np.zeros(1), classes
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(x, list(y))
    coef, intercept = np.asarray(model.coef_), np.asarray(model.intercept_)
    if len(classes) == 2:  # binary: sklearn stores the positive class only
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.r_[0.0, intercept]
    return coef, intercept, [*model.classes_]


def train_head(
    labels_path: str | os.PathLike[str],
    corpus_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str] | None = None,
    split: Split = "dev",
    *,
    c: float = DEFAULT_C,
    batch_size: int = 32,
) -> Path:
    """Train the head on one split of a labels file and save it.

    Args:
        labels_path: ground-truth labels (``data/labels/tcplab-v1.csv``).
        corpus_path: corpus holding the documentation of the labeled tools.
        out_path: where to write; default ``TCPLAB_HOME/models/embedding-head-<hash16>.npz``.
        split: the split to train on (``dev``; training on ``test`` defeats the split).
        c: inverse regularization strength of the logistic regressions.
        batch_size: encoder batch size.

    Returns:
        The path written.

    Raises:
        UsageError: no labeled tool of the split has documentation in the corpus.
        MissingDependencyError: the ``ml`` extra is not installed.
    """
    labels = read_labels(labels_path)
    docs = {row.name: row for row in read_corpus(Path(corpus_path))}
    chosen, texts, skipped = [], [], []
    for lb in labels.subset(split):
        doc = docs.get(lb.command)
        text = build_text(to_input(doc)) if doc is not None else ""
        if doc is None or not text or doc.doc_sha256 is None:
            skipped.append(lb.command)
            continue
        chosen.append((lb, doc.doc_sha256))
        texts.append(text)
    if not chosen:
        raise UsageError(f"no {split}-split tool of {labels_path} has documentation in the corpus")
    x = encode(load_model(), texts, batch_size).astype(np.float64)
    risk_coef, risk_b, risk_classes = _fit(x, [lb.risk_level.name for lb, _ in chosen], c)
    cap_coef, cap_b = np.zeros((6, x.shape[1])), np.zeros(6)
    for j, cap in enumerate(CAPABILITIES):
        y = [cap in lb.capabilities for lb, _ in chosen]
        if len(set(y)) == 1:
            cap_b[j] = _CONST if y[0] else -_CONST
            continue
        coef, b, _ = _fit(x, y, c)
        cap_coef[j], cap_b[j] = coef[1] - coef[0], b[1] - b[0]
    commands = [lb.command for lb, _ in chosen]
    doc_sha = [sha for _, sha in chosen]
    digest = training_set_sha256(labels.sha256, commands, doc_sha)
    meta = {
        "format": HEAD_FORMAT,
        "model_id": MODEL_ID,
        "model_package_version": model_package_version(),
        "text_recipe": TEXT_RECIPE,
        "labels_path": str(labels_path),
        "labels_sha256": labels.sha256,
        "corpus_path": str(corpus_path),
        "split": split,
        "commands": commands,
        "doc_sha256": doc_sha,
        "skipped": skipped,
        "risk_classes": [str(k) for k in risk_classes],
        "C": c,
        "training_set_sha256": digest,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = Path(out_path) if out_path else default_head_dir() / f"embedding-head-{digest[:16]}.npz"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(
            fh, risk_coef=risk_coef, risk_intercept=risk_b, cap_coef=cap_coef,
            cap_intercept=cap_b, meta=np.array(json.dumps(meta, sort_keys=True)),
        )  # fmt: skip
    tmp.replace(out)
    return out
