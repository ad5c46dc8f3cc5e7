"""Multiple-comparison adjustment of p-values (Holm, Benjamini-Hochberg)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tcplab.errors import UsageError
from tcplab.stats._validate import FloatArray, as_float_array, check_alpha

__all__ = ["AdjustedPValues", "adjust_pvalues", "benjamini_hochberg", "holm"]


def _pvalues(p: Sequence[float]) -> FloatArray:
    arr = as_float_array(p, "p_values")
    if np.any((arr < 0) | (arr > 1)):
        raise UsageError("p_values must lie in [0, 1]")
    return arr


def holm(p_values: Sequence[float]) -> FloatArray:
    """Holm step-down adjusted p-values (family-wise error rate).

    Method: sort ascending, ``adj_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``, then
    restore the input order. Matches ``statsmodels.stats.multitest.multipletests(...,
    method="holm")``. Source: Holm S. (1979) A simple sequentially rejective multiple test
    procedure. Scandinavian Journal of Statistics 6:65-70.

    Args:
        p_values: raw p-values in ``[0, 1]``, at least one.

    Returns:
        Adjusted p-values, in input order.

    Raises:
        UsageError: if empty or outside ``[0, 1]``.
    """
    p = _pvalues(p_values)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj
    return out


def benjamini_hochberg(p_values: Sequence[float]) -> FloatArray:
    """Benjamini-Hochberg step-up adjusted p-values (false discovery rate).

    Method: sort ascending, ``adj_(i) = min_{j >= i} min(1, m p_(j) / j)``, then restore
    the input order. Matches ``multipletests(..., method="fdr_bh")``. Source: Benjamini Y.,
    Hochberg Y. (1995) Controlling the false discovery rate: a practical and powerful
    approach to multiple testing. JRSS B 57:289-300.

    Args:
        p_values: raw p-values in ``[0, 1]``, at least one.

    Returns:
        Adjusted p-values, in input order.

    Raises:
        UsageError: if empty or outside ``[0, 1]``.
    """
    p = _pvalues(p_values)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    adj = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    out = np.empty(m)
    out[order] = adj
    return out


@dataclass(frozen=True, slots=True)
class AdjustedPValues:
    """Adjusted p-values and which hypotheses are rejected.

    Attributes:
        method: ``"holm"`` or ``"bh"``.
        raw: the input p-values.
        adjusted: adjusted p-values, input order.
        alpha: family-wise (Holm) or false-discovery (BH) level.
        significant: ``adjusted <= alpha`` per hypothesis (statsmodels' ``reject``).
    """

    method: Literal["holm", "bh"]
    raw: FloatArray
    adjusted: FloatArray
    alpha: float
    significant: tuple[bool, ...]


def adjust_pvalues(
    p_values: Sequence[float], *, method: Literal["holm", "bh"] = "holm", alpha: float = 0.05
) -> AdjustedPValues:
    """Adjust p-values with Holm or Benjamini-Hochberg and flag the rejected hypotheses.

    Method: see :func:`holm` (Holm S. (1979) Scand J Stat 6:65-70) and
    :func:`benjamini_hochberg` (Benjamini Y., Hochberg Y. (1995) JRSS B 57:289-300). A
    hypothesis is significant when its adjusted p-value is ``<= alpha`` (as statsmodels'
    ``reject``).

    Args:
        p_values: raw p-values in ``[0, 1]``.
        method: ``"holm"`` (default) or ``"bh"``.
        alpha: level (default 0.05).

    Returns:
        An :class:`AdjustedPValues`.

    Raises:
        UsageError: on bad p-values, method or alpha.
    """
    check_alpha(alpha)
    if method == "holm":
        adj = holm(p_values)
    elif method == "bh":
        adj = benjamini_hochberg(p_values)
    else:
        raise UsageError(f"method must be 'holm' or 'bh' (got {method!r})")
    return AdjustedPValues(
        method=method,
        raw=_pvalues(p_values),
        adjusted=adj,
        alpha=alpha,
        significant=tuple(bool(v) for v in adj <= alpha),
    )
