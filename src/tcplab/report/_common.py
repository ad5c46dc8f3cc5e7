"""Report settings and small helpers shared by the summary, the renderers and compare."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

from tcplab.errors import UsageError
from tcplab.stats import BootstrapResult

__all__ = [
    "SUMMARY_SCHEMA_VERSION",
    "ReportSettings",
    "ci_dict",
    "clean_json",
    "guarded",
    "verdict",
]

SUMMARY_SCHEMA_VERSION = 1
"""Version of the ``summary.json`` layout (see ``docs/report.md``)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ReportSettings:
    """Statistics settings of a report (all written into ``summary.json``).

    Attributes:
        n_resamples: bootstrap resamples for every CI (default 10,000).
        seed: seed of every bootstrap (numpy Generator).
        confidence: coverage of every CI (default 0.95).
        alpha: significance level of every test (default 0.05).
        method: bootstrap interval, ``"bca"`` (default) or ``"percentile"``.
        tost_margin: equivalence margin for accuracy, as a fraction (0.05 = 5 points).
        usd_per_core_hour: price of a CPU core-hour for local arms (default 0.05 $).
        reference_arm: arm the speed ratios are taken against (default: ``tcp`` if there is
            one, else the first arm).
        max_table_rows: most rows of the disagreement table in the HTML/Markdown report.
    """

    n_resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    alpha: float = 0.05
    method: str = "bca"
    tost_margin: float = 0.05
    usd_per_core_hour: float = 0.05
    reference_arm: str | None = None
    max_table_rows: int = 200

    def __post_init__(self) -> None:
        if self.n_resamples < 2:
            raise UsageError(f"n_resamples must be >= 2 (got {self.n_resamples})")
        if not 0 < self.confidence < 1 or not 0 < self.alpha < 0.5:
            raise UsageError("confidence must be in (0, 1) and alpha in (0, 0.5)")
        if self.method not in ("bca", "percentile"):
            raise UsageError(f"method must be 'bca' or 'percentile' (got {self.method!r})")
        if not self.tost_margin > 0 or not self.usd_per_core_hour >= 0:
            raise UsageError("tost_margin must be > 0 and usd_per_core_hour >= 0")

    def to_dict(self) -> dict[str, Any]:
        """The settings as a JSON-ready dict."""
        return asdict(self)


def clean_json(obj: Any) -> Any:
    """``obj`` with NaN and infinite floats replaced by None (JSON has no such numbers)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    return obj


def verdict(significant: bool) -> str:
    """``"significant"`` or ``"not significant"``."""
    return "significant" if significant else "not significant"


def ci_dict(res: BootstrapResult, *, exclude: float | None = 0.0) -> dict[str, Any]:
    """A bootstrap result as ``{"estimate", "ci", ...}``; significant when the CI excludes
    ``exclude`` (None: no significance is given)."""
    out: dict[str, Any] = {
        "estimate": res.estimate,
        "ci": [res.low, res.high],
        "standard_error": res.standard_error,
        "confidence": res.confidence,
        "method": res.method,
        "n_resamples": res.n_resamples,
        "n_tools": res.n_clusters,
    }
    if exclude is not None:
        sig = not (res.low <= exclude <= res.high)
        out["significant"] = sig
        out["verdict"] = verdict(sig)
    return out


def guarded(fn: Callable[[], T]) -> T | dict[str, Any]:
    """Run ``fn``; a :class:`UsageError` (too few tools, constant data) becomes
    ``{"available": False, "reason": ...}`` so one undefined statistic does not sink the
    report."""
    try:
        return fn()
    except UsageError as exc:
        return {"available": False, "reason": str(exc)}
