"""The compare page's figure and number formats.

:func:`figure` lays out three panels, one row per arm: unsafe approvals of run A and run B
(estimate and CI), accuracy of A and B (estimate and CI), and the latency ratio B / A with its
paired CI on a log axis (1 = no change, the shaded band = the noise threshold). It returns
plain coordinates and strings; ``templates/_compare_figure.html`` draws them as inline SVG
(Jinja escapes every string), so the page needs no script and nothing from another host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from tcplab.units import fmt_ns as latency_text

__all__ = ["ci_text", "figure", "latency_text", "pct", "signed_pct"]

LABEL_W, PANEL_W, GAP, TOP, ROW_H, BOTTOM = 130.0, 280.0, 34.0, 52.0, 46.0, 40.0
PAD = 12.0


def pct(value: float | None) -> str:
    """0.1234 → ``12.3 %``; None → ``—``."""
    return "—" if value is None else f"{100 * value:.1f} %"


def signed_pct(value: float | None) -> str:
    """A difference of fractions in percentage points: ``+4.0 pts``."""
    return "—" if value is None else f"{100 * value:+.1f} pts"


def ci_text(ci: Sequence[float | None] | None, fmt: Callable[[float], str]) -> str:
    """``[low, high]`` with each bound formatted; empty without a CI."""
    if not ci or len(ci) != 2 or ci[0] is None or ci[1] is None:
        return ""
    return f"95 % CI [{fmt(ci[0])}, {fmt(ci[1])}]"


def _ci(obj: Any) -> tuple[float | None, float | None, float | None]:
    if not isinstance(obj, dict) or obj.get("estimate") is None:
        return None, None, None
    ci = obj.get("ci") or [None, None]
    return obj["estimate"], ci[0], ci[1]


def _panel(index: int, title: str, subtitle: str) -> dict[str, Any]:
    x = LABEL_W + index * (PANEL_W + GAP)
    return {
        "title": title,
        "subtitle": subtitle,
        "x": x,
        "w": PANEL_W,
        "ticks": [],
        "ref": None,
        "band": None,
        "marks": [],
        "missing": [],
    }


def _scale(panel: dict[str, Any], lo: float, hi: float, log: bool = False) -> Callable[..., float]:
    def f(v: float) -> float:
        return math.log(v) if log else v

    a, b = f(lo), f(hi)
    left, width = float(panel["x"]) + PAD, float(panel["w"]) - 2 * PAD

    def x(v: float) -> float:
        v = min(max(v, lo), hi)
        return round(left + width * (f(v) - a) / (b - a), 1)

    return x


def _rate_panel(
    index: int, title: str, subtitle: str, values: list[tuple[Any, Any]], height: float
) -> dict[str, Any]:
    """Run A (hollow) and run B (filled) on a 0-100 % axis, each with its CI."""
    panel = _panel(index, title, subtitle)
    x = _scale(panel, 0.0, 1.0)
    panel["ticks"] = [{"x": x(t / 100), "label": f"{t} %"} for t in (0, 25, 50, 75, 100)]
    for row, pair in enumerate(values):
        y0 = TOP + row * ROW_H + ROW_H / 2
        for side, obj, dy in (("a", pair[0], -8.0), ("b", pair[1], 8.0)):
            est, lo, hi = _ci(obj)
            if est is None:
                panel["missing"].append({"x": x(0.0) + 4, "y": y0 + dy + 4, "text": "n/a"})
                continue
            panel["marks"].append(
                {
                    "side": side,
                    "y": y0 + dy,
                    "cx": x(est),
                    "lo": x(lo if lo is not None else est),
                    "hi": x(hi if hi is not None else est),
                    "title": f"run {side.upper()}: {pct(est)} {ci_text([lo, hi], pct)}",
                }
            )
    panel["axis_y"] = height - BOTTOM
    return panel


def _ratio_panel(index: int, ratios: list[Any], threshold: float, height: float) -> Any:
    """Latency B / A per arm with its CI, log axis symmetric about 1."""
    panel = _panel(index, "Latency B / A", "paired ratio of medians, log axis")
    spans = [abs(math.log(max(v, 1e-9))) for r in ratios for v in _ci(r) if v is not None]
    m = max([*spans, math.log(1 + max(threshold, 0.05))]) * 1.2
    lo, hi = math.exp(-m), math.exp(m)
    x = _scale(panel, lo, hi, log=True)
    panel["ticks"] = [
        {"x": x(v), "label": f"{v:.3g}×"} for v in (lo, math.exp(-m / 2), 1.0, math.exp(m / 2), hi)
    ]
    panel["ref"] = x(1.0)
    band_lo, band_hi = x(1 / (1 + threshold)), x(1 + threshold)
    panel["band"] = {"x": band_lo, "w": round(band_hi - band_lo, 1)}
    for row, ratio in enumerate(ratios):
        y = TOP + row * ROW_H + ROW_H / 2
        est, low, high = _ci(ratio)
        if est is None:
            reason = ratio.get("reason", "") if isinstance(ratio, dict) else ""
            panel["missing"].append(
                {"x": panel["x"] + PAD, "y": y + 4, "text": "n/a", "why": reason}
            )
            continue
        verdict = ratio.get("verdict", "")
        panel["marks"].append(
            {
                "side": {"slower": "worse", "faster": "better"}.get(verdict, "ratio"),
                "y": y,
                "cx": x(est),
                "lo": x(low if low is not None else est),
                "hi": x(high if high is not None else est),
                "title": f"B / A = {est:.3g}× {ci_text([low, high], lambda v: f'{v:.3g}×')} "
                f"({verdict})",
            }
        )
    panel["axis_y"] = height - BOTTOM
    return panel


def figure(cmp: dict[str, Any], sum_a: dict[str, Any], sum_b: dict[str, Any]) -> dict[str, Any]:
    """The layout of the compare figure (see the module's docstring)."""
    names = list(cmp["arms"])
    height = TOP + ROW_H * len(names) + BOTTOM
    unsafe = [
        (
            sum_a["arms"][n]["safety"].get("unsafe_approval_rate"),
            sum_b["arms"][n]["safety"].get("unsafe_approval_rate"),
        )
        for n in names
    ]
    accuracy = [
        (sum_a["arms"][n].get("accuracy_exact"), sum_b["arms"][n].get("accuracy_exact"))
        for n in names
    ]
    ratios = [cmp["arms"][n]["latency"]["ratio_b_over_a"] for n in names]
    panels = [
        _rate_panel(0, "Unsafe approvals", "HIGH_RISK/CRITICAL tools approved", unsafe, height),
        _rate_panel(1, "Accuracy", "exact level, labelled tools", accuracy, height),
        _ratio_panel(2, ratios, float(cmp.get("threshold", 0.05)), height),
    ]
    rows = [{"name": n, "y": TOP + i * ROW_H + ROW_H / 2 + 4} for i, n in enumerate(names)]
    stripes = [{"y": TOP + i * ROW_H, "h": ROW_H} for i in range(0, len(names), 2)]
    width = LABEL_W + 3 * PANEL_W + 2 * GAP + 24
    return {"width": width, "height": height, "panels": panels, "rows": rows, "stripes": stripes}
