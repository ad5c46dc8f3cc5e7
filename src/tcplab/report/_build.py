"""``build_report``: read a run, compute the summary, draw the plots, write the files."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tcplab.errors import MissingDependencyError, UsageError
from tcplab.experiment import find_run, runs_dir
from tcplab.report._common import ReportSettings
from tcplab.report._data import RunData, load_run
from tcplab.report._document import build_document
from tcplab.report._render import to_html, to_markdown
from tcplab.report._resources import resource_section
from tcplab.report._summary import build_summary

__all__ = ["ReportFiles", "build_report", "resolve_run"]


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`build_report` wrote.

    Attributes:
        out_dir: the report directory (``RUN_DIR/report`` by default).
        html: ``report.html``.
        markdown: ``report.md``.
        summary: ``summary.json``.
        plots: the standalone SVG files under ``plots/``.
    """

    out_dir: Path
    html: Path
    markdown: Path
    summary: Path
    plots: tuple[Path, ...]


def resolve_run(run: str, dest_dir: Path | None = None) -> Path:
    """A run directory from a run id, a directory, or an ``s3://`` URL (fetched first).

    Raises:
        UsageError: no such run.
        MissingDependencyError: an ``s3://`` URL but ``tcplab.store.fetch_run`` is missing.
    """
    if run.startswith("s3://"):
        try:
            from tcplab.store import fetch_run
        except ImportError as exc:
            raise MissingDependencyError(
                f"fetching {run} needs tcplab.store.fetch_run, which is not available "
                f"({exc}); install it with: pip install 'tcplab[s3]'"
            ) from exc
        return Path(fetch_run(run, dest_dir or runs_dir()))
    return find_run(run)


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def _plots(data: RunData, summary: dict[str, Any]) -> dict[str, str]:
    from tcplab.report import _plots as p

    arms = summary["arms"]
    per_tool = summary["per_tool"]
    ref = summary["settings"]["reference_arm"]
    medians = {
        a: [v["median_latency_ns"] for v in per_tool[a].values() if v["median_latency_ns"]]
        for a in summary["arm_order"]
    }
    svgs = {"ecdf": p.ecdf_svg(medians, {a: arms[a]["latency_is_batch_mean"] for a in arms})}
    ref_med = {t: v["median_latency_ns"] for t, v in per_tool[ref].items()}
    ratios: dict[str, list[float]] = {}
    overall: dict[str, tuple[float, float, float] | None] = {}
    for a in summary["arm_order"]:
        if a == ref:
            continue
        ratios[a] = [
            v["median_latency_ns"] / ref_med[t]
            for t, v in per_tool[a].items()
            if v["median_latency_ns"] and ref_med.get(t)
        ]
        r = summary["vs_reference"].get(a, {})
        overall[a] = (r["estimate"], *r["ci"]) if r.get("ci") else None
    if ratios:
        svgs["forest"] = p.forest_svg(ratios, overall, ref)
    acc = []
    for a in summary["arm_order"]:
        e = arms[a]["accuracy_exact"]
        if e.get("estimate") is not None:
            lo, hi = e["ci"] if e.get("ci") else (None, None)
            acc.append((a, e["estimate"], lo, hi))
    if acc:
        svgs["accuracy"] = p.accuracy_svg(acc)
    for a in summary["arm_order"]:
        c = arms[a]["confusion"]
        if "counts" in c:
            svgs[f"confusion-{a}"] = p.confusion_svg(a, c["counts"], c["columns"])
    return svgs


def build_report(
    run_dir: Path, settings: ReportSettings | None = None, out_dir: Path | None = None
) -> ReportFiles:
    """Write ``report.html``, ``report.md``, ``summary.json`` and ``plots/*.svg``.

    Args:
        run_dir: the run directory (with ``run.json`` and ``trials/``).
        settings: statistics settings (defaults: :class:`ReportSettings`).
        out_dir: where to write (default ``run_dir/report``).

    Returns:
        The paths written, as :class:`ReportFiles`.

    Raises:
        UsageError: not a run directory, or no trials.
        MissingDependencyError: scipy (``tcplab[stats]``) or matplotlib is not installed.
    """
    from tcplab.report._plots import inline_svg

    settings = settings or ReportSettings()
    data = load_run(run_dir)
    if not data.arms:
        raise UsageError(f"{run_dir}: the run has no trials")
    summary = build_summary(data, settings)
    try:
        svgs = _plots(data, summary)
    except ImportError as exc:  # pragma: no cover - matplotlib is a dependency
        raise MissingDependencyError.for_extra("matplotlib", "report", "the report") from exc
    res_blocks, res_svgs, summary["resources"] = resource_section(run_dir)
    svgs.update(res_svgs)
    out = out_dir or run_dir / "report"
    (out / "plots").mkdir(parents=True, exist_ok=True)
    plot_paths = []
    for key, svg in svgs.items():
        path = out / "plots" / f"{key}.svg"
        _write(path, svg)
        plot_paths.append(path)
    blocks = build_document(summary) + res_blocks
    md = to_markdown(blocks, {k: f"plots/{k}.svg" for k in svgs})
    inline = {k: inline_svg(v, f"fig{i}") for i, (k, v) in enumerate(svgs.items())}
    title = f"tcplab report {summary['run']['run_id']}"
    _write(out / "summary.json", json.dumps(summary, indent=2, allow_nan=False) + "\n")
    _write(out / "report.md", md)
    _write(out / "report.html", to_html(blocks, inline, title))
    return ReportFiles(
        out, out / "report.html", out / "report.md", out / "summary.json", tuple(plot_paths)
    )
