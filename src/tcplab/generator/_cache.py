"""The trained-model cache of the learned generators (``TCPLAB_HOME/cache/generator``).

A learned generator trains at every generation: grouped CV, the abstention choice, the final
fit. This cache keeps the result, so a second generation on the same inputs loads it instead.

An entry is two files, ``model-<key>.npz`` (the fitted parameters as plain arrays, read with
``allow_pickle=False``) and ``model-<key>.json`` (a :class:`ModelRecord`: schema version, key,
model kind and hyperparameters, the chosen threshold and guard, the CV report, the provenance
written into the explanation records, and the sha256 of the ``.npz``). The json is written
last, so it is the commit mark.

The key (:func:`model_key`) is the sha256 of everything the fitted model depends on: cache
schema and training-code version, tcplab / scikit-learn / numpy versions, the model kind and
hyperparameters, the fixed threshold (if any), the CV protocol (folds, seed, threshold grid,
targets), the labels' sha256, the feature version, the embedding model version, and the
training matrix, levels, capabilities and groups themselves (a changed man page of a training
tool changes the model). A missing, corrupt, mismatched or unreadable entry is ignored and the
model is retrained (and the entry rewritten); a cache that cannot be written only costs time.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["CACHE_SCHEMA_VERSION", "TRAINING_CODE_VERSION", "CachedModel", "ModelCache",
           "ModelRecord", "model_key"]  # fmt: skip

CACHE_SCHEMA_VERSION = 1
#: bump whenever a change to the training code (CV, abstention choice, models) changes a model
TRAINING_CODE_VERSION = "learned-v1"


class ModelRecord(BaseModel):
    """The ``model-<key>.json`` of a cache entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    key: str
    kind: str
    params: dict[str, float]
    threshold: float
    guard: float
    figures: dict[str, float]
    cv_report: dict[str, Any]
    info: dict[str, Any]
    arrays_sha256: str


@dataclass(frozen=True)
class CachedModel:
    """A loaded entry: the record and its arrays."""

    record: ModelRecord
    arrays: dict[str, npt.NDArray[Any]]


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for pkg in ("tcplab", "scikit-learn", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "?"
    return out


def model_key(settings: dict[str, Any], *arrays: npt.NDArray[Any]) -> str:
    """sha256 of ``settings`` (JSON), the library versions and the training ``arrays``."""
    doc = {"schema": CACHE_SCHEMA_VERSION, "code": TRAINING_CODE_VERSION,
           "versions": _versions(), **settings}  # fmt: skip
    h = hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode())
    for arr in arrays:
        a = np.ascontiguousarray(arr)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class ModelCache:
    """Entries under ``directory``; every failure to read means "not cached"."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def _paths(self, key: str) -> tuple[Path, Path]:
        stem = self.directory / f"model-{key[:32]}"
        return stem.with_suffix(".json"), stem.with_suffix(".npz")

    def load(self, key: str) -> CachedModel | None:
        """The entry for ``key``, or None when it is absent, corrupt or for another key."""
        meta, data = self._paths(key)
        try:
            record = ModelRecord.model_validate(json.loads(meta.read_text(encoding="utf-8")))
            raw = data.read_bytes()
        except (OSError, UnicodeDecodeError, ValueError, ValidationError):
            return None
        if record.key != key or hashlib.sha256(raw).hexdigest() != record.arrays_sha256:
            return None
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (OSError, ValueError, KeyError, EOFError):
            return None
        return CachedModel(record, arrays)

    def save(self, record: ModelRecord, arrays: dict[str, npt.NDArray[Any]]) -> bool:
        """Write an entry (the ``arrays_sha256`` of ``record`` is filled in); False on failure."""
        buf = io.BytesIO()
        plain: dict[str, Any] = dict(arrays)
        np.savez(buf, **plain)
        raw = buf.getvalue()
        record = record.model_copy(update={"arrays_sha256": hashlib.sha256(raw).hexdigest()})
        meta, data = self._paths(record.key)
        text = json.dumps(record.model_dump(mode="python"), sort_keys=True, default=str)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _atomic_write(data, raw)
            _atomic_write(meta, text.encode("utf-8"))
        except OSError:
            return False
        return True


def _atomic_write(path: Path, payload: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
