"""The report's resource section: what the machine did while the trials ran.

Reads the run's resource samples (``RUN_DIR/metrics/``, written by :mod:`tcplab.monitor`) and
each shard's resource figures from the record; draws CPU and memory (and GPU utilisation when
sampled) over time with shard boundaries; tabulates CPU-seconds per decision and peak RSS per
worker. A run without samples gets one line saying so.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from tcplab.experiment import RunDir, read_trials
from tcplab.report._document import Block

__all__ = ["resource_section"]


def _series(table: pa.Table, name: str) -> tuple[list[float], list[float]]:
    t = table.filter(pc.equal(table["name"], name))
    return [v / 1e9 for v in t["ts_ns"].to_pylist()], t["value"].to_pylist()


def _shard_spans(run_dir: Path) -> list[tuple[int, float, float]]:
    t = read_trials(run_dir, ["shard", "started_at_ns", "finished_at_ns"])
    spans: dict[int, list[float]] = {}
    for s, a, b in zip(
        t["shard"].to_pylist(),
        t["started_at_ns"].to_pylist(),
        t["finished_at_ns"].to_pylist(),
        strict=True,
    ):
        lo_hi = spans.setdefault(s, [a / 1e9, b / 1e9])
        lo_hi[0], lo_hi[1] = min(lo_hi[0], a / 1e9), max(lo_hi[1], b / 1e9)
    return sorted((s, v[0], v[1]) for s, v in spans.items())


def arm_phases(run_dir: Path) -> dict[str, tuple[float, float]]:
    """Each arm's span (first trial start, last trial end, seconds) when the arms ran one
    after the other (``order: sequential``); empty when their spans overlap (interleaved)."""
    t = read_trials(run_dir, ["arm", "started_at_ns", "finished_at_ns"])
    spans: dict[str, tuple[float, float]] = {}
    for arm, a, b in zip(
        t["arm"].to_pylist(),
        t["started_at_ns"].to_pylist(),
        t["finished_at_ns"].to_pylist(),
        strict=True,
    ):
        lo, hi = spans.get(arm, (a / 1e9, b / 1e9))
        spans[arm] = (min(lo, a / 1e9), max(hi, b / 1e9))
    ordered = sorted(spans.values())
    if any(prev[1] > nxt[0] for prev, nxt in itertools.pairwise(ordered)):
        return {}
    return spans


def resource_svg(
    table: pa.Table,
    spans: list[tuple[int, float, float]],
    phases: dict[str, tuple[float, float]] | None = None,
) -> str:
    """Host CPU busy %, memory used (GB) and GPU utilisation (when sampled) over time, with
    shard starts (grey lines) and, for sequential runs, each arm's phase shaded."""
    from tcplab.report._plots import _PALETTE, _figure, _svg

    panels = [("cpu_busy_percent", "host CPU busy (%)", 1.0)]
    panels.append(("memory_used_bytes", "memory used (GB)", 1e-9))
    if pc.any(pc.equal(table["name"], "gpu_utilization_percent")).as_py():
        panels.append(("gpu_utilization_percent", "GPU utilisation (%)", 1.0))
    fig = _figure(7.5, 1.9 * len(panels) + 0.6)
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    t0 = min(table["ts_ns"].to_pylist()) / 1e9
    for ax, (name, label, scale) in zip(axes, panels, strict=True):
        x, y = _series(table, name)
        ax.plot([v - t0 for v in x], [v * scale for v in y], color="#1f77b4", linewidth=1.0)
        for _s, start, _end in spans:
            ax.axvline(start - t0, color="#999999", linewidth=0.5, alpha=0.6)
        for i, (arm, (lo, hi)) in enumerate(sorted((phases or {}).items())):
            color = _PALETTE[i % len(_PALETTE)]
            ax.axvspan(lo - t0, hi - t0, color=color, alpha=0.12, label=f"arm {arm}")
        ax.set_ylabel(label, fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[-1].set_xlabel("seconds since the first sample (grey lines: a shard starts)")
    if phases:
        axes[0].legend(loc="lower right", fontsize="small")
    return _svg(fig)


def _worker_rows(shards: list[Any]) -> list[list[str]]:
    """Totals over the shards that carry resource figures (``ShardInfo.resources``)."""
    measured = [s for s in shards if s.resources]
    cpu = sum(s.resources["cpu_seconds"] for s in measured)
    wall = sum(s.resources["wall_seconds"] for s in measured)
    peak = max(s.resources.get("maxrss_bytes", 0.0) for s in measured)
    n = sum(s.rows for s in measured) or 1
    return [
        ["CPU-seconds in workers (all shards)", f"{cpu:.2f} s"],
        ["CPU-seconds per decision (incl. timing batches)", f"{cpu / n * 1e3:.3f} ms"],
        ["cores busy per worker while running a shard", f"{cpu / wall:.2f}" if wall else "—"],
        ["peak RSS of a worker", f"{peak / 1e9:.2f} GB"],
    ]


def arm_resources(run_dir: Path, shards: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Each shard's worker CPU and wall seconds split among its arms in proportion to the time
    their trials took in it (exact for single-arm shards, an estimate for interleaved ones)."""
    t = read_trials(run_dir, ["shard", "arm", "started_at_ns", "finished_at_ns"])
    took: dict[int, dict[str, float]] = {}
    count: dict[str, int] = {}
    for s, arm, a, b in zip(
        t["shard"].to_pylist(),
        t["arm"].to_pylist(),
        t["started_at_ns"].to_pylist(),
        t["finished_at_ns"].to_pylist(),
        strict=True,
    ):
        per = took.setdefault(s, {})
        per[arm] = per.get(arm, 0.0) + max(0, b - a)
        count[arm] = count.get(arm, 0) + 1
    out: dict[str, dict[str, float]] = {}
    for idx, per in took.items():
        info = shards.get(str(idx))
        res = info.resources if info is not None else None
        total = sum(per.values())
        if not res or total <= 0:
            continue
        for arm, ns in per.items():
            d = out.setdefault(arm, {"cpu_seconds": 0.0, "wall_seconds": 0.0, "rss_peak": 0.0})
            d["cpu_seconds"] += res["cpu_seconds"] * ns / total
            d["wall_seconds"] += res["wall_seconds"] * ns / total
            d["rss_peak"] = max(d["rss_peak"], res.get("maxrss_bytes", 0.0))
    for arm, d in out.items():
        d["decisions"] = float(count[arm])
        d["cpu_seconds_per_decision"] = d["cpu_seconds"] / count[arm]
        d["cores"] = d["cpu_seconds"] / d["wall_seconds"] if d["wall_seconds"] else 0.0
    return out


def _arm_table(arms: dict[str, dict[str, float]]) -> Block:
    rows = [
        [
            arm,
            f"{d['decisions']:.0f}",
            f"{d['cpu_seconds']:.2f}",
            f"{d['cpu_seconds_per_decision'] * 1e3:.3f}",
            f"{d['cores']:.2f}",
            f"{d['rss_peak'] / 1e9:.2f} GB",
        ]
        for arm, d in sorted(arms.items())
    ]
    header = ["arm", "decisions", "CPU-s", "CPU ms / decision", "cores", "peak worker RSS"]
    return ("table", header, rows)


def resource_section(run_dir: Path) -> tuple[list[Block], dict[str, str], dict[str, Any]]:
    """Blocks, SVG figures (key -> SVG) and the summary part of the resource section."""
    from tcplab.monitor import read_metrics

    record = RunDir(run_dir).read_record()
    blocks: list[Block] = [("h2", "Resources")]
    res = record.resources
    table = read_metrics(run_dir / "metrics")
    summary: dict[str, Any] = {**res, "shards": {k: v.resources for k, v in record.shards.items()}}
    if not res and table.num_rows == 0:
        blocks.append(("p", "No resource samples were taken for this run (sampling was off)."))
        return blocks, {}, summary
    sources = [f"{k}: {v}" for k, v in res.get("sources", {}).items()]
    blocks.append(("p", f"Sampled every {res.get('interval_s', '?')} s. Sources:"))
    blocks.append(("ul", sources))
    svgs: dict[str, str] = {}
    if table.num_rows:
        phases = arm_phases(run_dir)
        svgs["resources"] = resource_svg(table, _shard_spans(run_dir), phases)
        caption = "Host resources during the run, with shard boundaries" + (
            " and arm phases" if phases else ""
        )
        blocks.append(("figure", "resources", caption))
    if any(s.resources for s in record.shards.values()):
        rows = _worker_rows(list(record.shards.values()))
        blocks.append(("table", ["measure", "value"], rows))
        arms = arm_resources(run_dir, dict(record.shards))
        summary["arms"] = arms
        blocks.append(
            (
                "p",
                "Per arm: each shard's worker CPU and wall time split among the arms in "
                "proportion to the time their trials took in it (exact when a shard holds one "
                "arm, an estimate for interleaved shards); peak RSS is the worker process's "
                "lifetime peak.",
            )
        )
        blocks.append(_arm_table(arms))
    share = res.get("sampler_core_share")
    if share is not None:
        blocks.append(("p", f"The sampler itself used {share:.3%} of one core."))
    return blocks, svgs, summary
