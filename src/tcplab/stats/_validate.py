"""Input checks shared by the statistics modules.

Every public function of :mod:`tcplab.stats` converts its inputs through these helpers so
that bad input (empty arrays, mismatched lengths, NaN, non-integer labels) fails with one
:class:`~tcplab.errors.UsageError` that says what to pass instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sized
from typing import Any

import numpy as np
import numpy.typing as npt

from tcplab.errors import MissingDependencyError, UsageError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def _raw(x: object) -> npt.NDArray[Any]:
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, str | bytes):
        raise TypeError("a string is not a sequence of numbers")
    if isinstance(x, Iterable):
        return np.asarray(list(x))
    return np.asarray(x)


def as_float_array(x: object, name: str, *, min_n: int = 1) -> FloatArray:
    """Return ``x`` as a finite 1-D float64 array of at least ``min_n`` values."""
    try:
        arr = np.asarray(_raw(x), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name} must be a sequence of numbers") from exc
    if arr.ndim != 1:
        raise UsageError(f"{name} must be one-dimensional (got shape {arr.shape})")
    if arr.size < min_n:
        raise UsageError(f"{name} must hold at least {min_n} value(s) (got {arr.size})")
    if not np.all(np.isfinite(arr)):
        raise UsageError(f"{name} must not contain NaN or infinite values; drop them first")
    return arr


def as_positive_array(x: object, name: str, *, min_n: int = 1) -> FloatArray:
    """Return ``x`` as a finite 1-D float64 array of strictly positive values (latencies)."""
    arr = as_float_array(x, name, min_n=min_n)
    if np.any(arr <= 0):
        raise UsageError(f"{name} must be strictly positive (latencies in seconds, > 0)")
    return arr


def as_int_array(x: object, name: str, *, min_n: int = 1) -> IntArray:
    """Return ``x`` as a 1-D int64 array of at least ``min_n`` integer labels."""
    try:
        raw = _raw(x)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{name} must be a sequence of integer labels") from exc
    if raw.ndim != 1:
        raise UsageError(f"{name} must be one-dimensional (got shape {raw.shape})")
    if raw.size < min_n:
        raise UsageError(f"{name} must hold at least {min_n} label(s) (got {raw.size})")
    if raw.size == 0:
        return np.zeros(0, dtype=np.int64)
    if raw.dtype.kind == "b" or raw.dtype.kind not in "iuf":
        raise UsageError(f"{name} must hold integer labels (got dtype {raw.dtype})")
    if raw.dtype.kind == "f" and (not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw))):
        raise UsageError(f"{name} must hold whole-number labels without NaN")
    return raw.astype(np.int64)


def same_length(a: Sized, b: Sized, name_a: str, name_b: str) -> None:
    """Raise :class:`UsageError` unless ``a`` and ``b`` have the same length."""
    if len(a) != len(b):
        raise UsageError(
            f"{name_a} and {name_b} must have the same length (got {len(a)} and {len(b)}); "
            "pass one entry per tool in the same order"
        )


def check_alpha(alpha: float, name: str = "alpha") -> float:
    """Return ``alpha`` after checking it lies strictly between 0 and 1."""
    if not (0.0 < float(alpha) < 1.0):
        raise UsageError(f"{name} must be strictly between 0 and 1 (got {alpha})")
    return float(alpha)


def check_positive_int(value: int, name: str, *, minimum: int = 1) -> int:
    """Return ``value`` after checking it is an int of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise UsageError(f"{name} must be an integer >= {minimum} (got {value!r})")
    return int(value)


def require_scipy(feature: str) -> Any:
    """Import and return :mod:`scipy.stats`, or raise :class:`MissingDependencyError`."""
    try:
        import scipy.stats as sps
    except ImportError as exc:
        raise MissingDependencyError.for_extra("scipy", "stats", feature) from exc
    return sps


def labels_array(labels: Iterable[int], name: str = "labels") -> IntArray:
    """Return ``labels`` as a non-empty int64 array of distinct values (order kept)."""
    arr = as_int_array(labels, name)
    if np.unique(arr).size != arr.size:
        raise UsageError(f"{name} must not repeat a value (got {arr.tolist()})")
    return arr
