"""Units shown to people: one formatter per quantity, used by the report, the service pages
and the CLI tables alike (light: no third-party import)."""

from __future__ import annotations

__all__ = ["fmt_ns"]


def fmt_ns(ns: float | None) -> str:
    """Nanoseconds in the unit that reads best (``1.23 µs``); ``—`` when there is no latency."""
    if ns is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"
