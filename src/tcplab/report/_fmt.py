"""Number formats shared by the report's blocks."""

from __future__ import annotations

from typing import Any

from tcplab.units import fmt_ns

__all__ = ["ci", "fmt_ns", "fmt_p", "num", "pct"]


def num(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def fmt_p(p: Any) -> str:
    """A p-value (``< 1e-4`` below that)."""
    if p is None:
        return "n/a"
    return "< 1e-4" if p < 1e-4 else f"{p:.4f}"


def ci(d: Any, fmt: Any = num) -> str:
    if not isinstance(d, dict) or d.get("available") is False or d.get("ci") is None:
        est = d.get("estimate") if isinstance(d, dict) else None
        return f"{fmt(est)} (CI not available)" if est is not None else "n/a"
    lo, hi = d["ci"]
    return f"{fmt(d['estimate'])} [{fmt(lo)}, {fmt(hi)}]"


def pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"
