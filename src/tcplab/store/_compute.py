"""Per-tool per-arm aggregates of a run's trials (what the ``results`` table holds).

The numbers come from the run's one reduction (:mod:`tcplab.report.reduce`), the same one
the report and the quickstart table use, so the three cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from tcplab.report.reduce import (
    REDUCE_COLUMNS,
    REFERENCE_ARM,
    ToolArmReduction,
    pick_reference,
    reduce_trials,
)
from tcplab.stats import ratio_of_medians

__all__ = ["REDUCE_COLUMNS", "REFERENCE_ARM", "compute_results"]


def _row(r: ToolArmReduction, ref: ToolArmReduction | None, reference_arm: str) -> dict[str, Any]:
    p50 = r.latency_median_ns
    ref_p50 = ref.latency_median_ns if ref is not None else None
    return {
        "tool": r.tool,
        "arm": r.arm,
        "n": r.n_trials,
        "n_ok": r.n_ok,
        "accuracy": r.fraction_correct,
        "latency_mean_ns": r.latency_mean_ns,
        "latency_p50_ns": p50,
        "latency_p99_ns": r.latency_p99_ns,
        "speed_ratio": ratio_of_medians([p50], [ref_p50]) if p50 and ref_p50 else None,
        "reference_arm": reference_arm,
        "metadata": {
            "n_ok": r.n_ok,
            "n_failed": r.n_failed,
            "n_cache_hits": r.n_cache_hits,
            "n_timed": len(r.latencies_ns),
            "n_unknown": r.n_unknown,
            "n_parse_failure": r.n_parse_failure,
            "modal": r.modal,
            "label": r.label,
        },
    }


def compute_results(
    run_dir_or_table: Path | str | pa.Table, reference_arm: str | None = None
) -> list[dict[str, Any]]:
    """Aggregate trials per (tool, arm), from :func:`tcplab.report.reduce.reduce_trials`.

    Each dict has ``tool``, ``arm``, ``n`` (trials), ``n_ok`` (status ``OK``), ``accuracy``
    (the tool's fraction of correct trials; None when the tool has no label),
    ``latency_mean_ns`` / ``latency_p50_ns`` / ``latency_p99_ns`` (over the timed trials:
    status ``OK``, not a cache hit, a positive latency; linear-interpolated percentiles;
    None when there is none, never 0), ``speed_ratio`` (this arm's median latency ÷ the
    reference arm's for the same tool; None when either is missing), ``reference_arm`` and
    ``metadata`` (``n_ok``, ``n_failed``, ``n_cache_hits``, ``n_timed``, ``n_unknown``,
    ``n_parse_failure``, ``modal`` and ``label`` codes).

    Args:
        run_dir_or_table: a run directory (its ``trials/`` shards are read) or a trial table
            with the columns of :data:`REDUCE_COLUMNS` (a missing column reads as nulls: pass
            them all, or cache hits and failures cannot be told apart).
        reference_arm: the arm ratios are relative to; default ``tcp`` if present, else the
            first arm in trial order.

    Raises:
        UsageError: unknown ``reference_arm``, no trials, or unreadable trials.
    """
    source = run_dir_or_table if isinstance(run_dir_or_table, pa.Table) else Path(run_dir_or_table)
    rows = reduce_trials(source)
    arms = list(dict.fromkeys(r.arm for r in rows))
    ref = pick_reference(arms, reference_arm)
    refs = {r.tool: r for r in rows if r.arm == ref}
    out = [_row(r, refs.get(r.tool), ref) for r in rows]
    return sorted(out, key=lambda r: (str(r["tool"]), str(r["arm"])))
