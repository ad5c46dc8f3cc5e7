"""The report's figures, drawn with matplotlib's Agg/SVG backends (no display, no pyplot).

Each function returns a standalone SVG document; :func:`inline_svg` turns one into markup
for an HTML page (no XML prolog, no namespace URLs, ids made unique per figure).
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tcplab.report._data import LEVELS

__all__ = ["accuracy_svg", "confusion_svg", "ecdf_svg", "forest_svg", "inline_svg"]

_PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg")  # headless: never open a window
    matplotlib.rcParams["svg.hashsalt"] = "tcplab-report"  # deterministic ids
    matplotlib.rcParams["svg.fonttype"] = "path"  # text as paths: no font needed to view
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    meta = {"Date": None, "Creator": None, "Format": None, "Type": None}
    fig.savefig(buf, format="svg", metadata=meta)
    return buf.getvalue()


def ecdf_svg(medians: Mapping[str, Sequence[float]], batch_mean: Mapping[str, bool]) -> str:
    """ECDF of the per-tool median latency of each arm, log x axis."""
    fig = _figure(7.5, 4.2)
    ax = fig.add_subplot()
    for i, (arm, values) in enumerate(medians.items()):
        x = np.sort(np.asarray(values, dtype=np.float64))
        if x.size == 0:
            continue
        y = np.arange(1, x.size + 1) / x.size
        label = f"{arm} (batch means)" if batch_mean.get(arm) else arm
        ax.step(x, y, where="post", color=_PALETTE[i % len(_PALETTE)], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("per-tool median latency (ns, log scale; failures and cache hits excluded)")
    ax.set_ylabel("fraction of tools")
    ax.set_ylim(0, 1.02)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return _svg(fig)


def forest_svg(
    per_tool: Mapping[str, Sequence[float]],
    overall: Mapping[str, tuple[float, float, float] | None],
    reference: str,
) -> str:
    """Per-tool latency ratios of each arm to ``reference`` (points) with the overall
    ratio of medians and its bootstrap CI (diamond and bar), log x axis."""
    arms = list(per_tool)
    fig = _figure(7.5, 1.2 + 0.7 * max(1, len(arms)))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)  # jitter only; not part of any statistic
    for i, arm in enumerate(arms):
        r = np.asarray(per_tool[arm], dtype=np.float64)
        colour = _PALETTE[(i + 1) % len(_PALETTE)]
        if r.size:
            jitter = rng.uniform(-0.18, 0.18, r.size)
            ax.scatter(r, i + jitter, s=6, alpha=0.35, color=colour, linewidths=0)
        ov = overall.get(arm)
        if ov is not None:
            est, lo, hi = ov
            ax.errorbar(
                [est], [i], xerr=[[est - lo], [hi - est]], fmt="D", color="black", capsize=4
            )
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(arms)), [f"{a} / {reference}" for a in arms])
    ax.set_ylim(-0.6, len(arms) - 0.4)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("latency ratio (points: per tool; diamond: ratio of medians with bootstrap CI)")
    ax.grid(True, axis="x", which="both", alpha=0.3)
    return _svg(fig)


def confusion_svg(arm: str, counts: Sequence[Sequence[int]], columns: Sequence[str]) -> str:
    """Confusion matrix of ``arm``'s modal predictions (columns) against the labels (rows)."""
    m = np.asarray(counts, dtype=np.float64)
    fig = _figure(6.2, 3.8)
    ax = fig.add_subplot()
    ax.imshow(m, cmap="Blues", aspect="auto", vmin=0, vmax=max(1.0, float(m.max())))
    short = [c.replace("_RISK", "").replace("PARSE_FAILURE", "PARSE FAIL") for c in columns]
    ax.set_xticks(range(len(columns)), short, rotation=30, ha="right", fontsize="small")
    ax.set_yticks(range(len(LEVELS)), [c.replace("_RISK", "") for c in LEVELS], fontsize="small")
    top = float(m.max()) if m.size else 0.0
    for (r, c), v in np.ndenumerate(m):
        if v:
            colour = "white" if v > top / 2 else "black"
            ax.text(c, r, f"{int(v)}", ha="center", va="center", color=colour, fontsize="small")
    ax.set_xlabel("modal prediction")
    ax.set_ylabel("label")
    ax.set_title(f"{arm}: tools by label and modal prediction", fontsize="medium")
    return _svg(fig)


def accuracy_svg(rows: Sequence[tuple[str, float, float | None, float | None]]) -> str:
    """accuracy_exact of each arm with its bootstrap CI (rows: name, estimate, low, high)."""
    fig = _figure(7.5, 1.2 + 0.5 * max(1, len(rows)))
    ax = fig.add_subplot()
    for i, (_name, est, lo, hi) in enumerate(rows):
        colour = _PALETTE[i % len(_PALETTE)]
        if lo is not None and hi is not None:
            ax.errorbar([est], [i], xerr=[[est - lo], [hi - est]], fmt="o", capsize=4, color=colour)
        else:
            ax.plot([est], [i], "o", color=colour)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy_exact (mean over tools of fraction correct) with bootstrap CI")
    ax.grid(True, axis="x", alpha=0.3)
    return _svg(fig)


_PROLOG = re.compile(r"^.*?(?=<svg\b)", re.S)
_XMLNS = re.compile(r'\s+xmlns(:\w+)?="[^"]*"')
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="([\d.]+)pt"\s+height="([\d.]+)pt"')


def inline_svg(svg: str, prefix: str) -> str:
    """``svg`` ready to inline in HTML: no prolog or namespace URLs, ids prefixed, and a
    width that shrinks with the page."""
    out = _PROLOG.sub("", svg, count=1)
    out = _XMLNS.sub("", out)
    out = re.sub(r'\bid="', f'id="{prefix}-', out)
    out = re.sub(r'href="#', f'href="#{prefix}-', out)
    out = out.replace("url(#", f"url(#{prefix}-")
    return _SIZE.sub(
        lambda m: (
            f'<svg{m.group(1)} role="img" class="plot" width="{m.group(2)}pt" '
            f'height="{m.group(3)}pt" style="max-width:100%;height:auto"'
        ),
        out,
        count=1,
    )
