"""Per-tool per-arm aggregates of a run's trials (what the ``results`` table holds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from tcplab.errors import UsageError
from tcplab.experiment.trials import read_trials

__all__ = ["REFERENCE_ARM", "compute_results"]

#: The arm speed ratios are measured against when present.
REFERENCE_ARM = "tcp"
_COLUMNS = ("tool", "arm", "status", "correct", "latency_ns")


def _first_arm_order(table: pa.Table) -> list[str]:
    seen: dict[str, None] = {}
    for arm in table["arm"].to_pylist():
        if arm is not None:
            seen.setdefault(arm, None)
    return list(seen)


def compute_results(
    run_dir_or_table: Path | str | pa.Table, reference_arm: str | None = None
) -> list[dict[str, Any]]:
    """Aggregate trials per (tool, arm).

    Each dict has ``tool``, ``arm``, ``n`` (trials), ``n_ok`` (status ``OK``), ``accuracy``
    (trials with ``correct`` true ÷ n; a null ``correct`` counts as not correct),
    ``latency_mean_ns`` / ``latency_p50_ns`` / ``latency_p99_ns`` (over trials with status
    ``OK`` and a latency; linear-interpolated percentiles; None when there is none),
    ``speed_ratio`` (this arm's median latency ÷ the reference arm's for the same tool; None
    when either is missing), ``reference_arm`` and ``metadata`` (``{"n_ok": ...}``).

    Args:
        run_dir_or_table: a run directory (its ``trials/`` shards are read) or a trial table.
        reference_arm: the arm ratios are relative to; default ``tcp`` if present, else the
            first arm in trial order.

    Raises:
        UsageError: unknown ``reference_arm``, or no trials.
    """
    if isinstance(run_dir_or_table, pa.Table):
        table = run_dir_or_table.select(list(_COLUMNS))
    else:
        table = read_trials(Path(run_dir_or_table), columns=_COLUMNS)
    arms = _first_arm_order(table)
    if not arms:
        raise UsageError("no trials to aggregate")
    if reference_arm is None:
        reference_arm = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]
    elif reference_arm not in arms:
        raise UsageError(f"reference arm {reference_arm!r} is not among the arms: {arms}")

    tools = np.asarray(table["tool"].to_pylist(), dtype=object)
    arm_col = np.asarray(table["arm"].to_pylist(), dtype=object)
    correct = pc.fill_null(table["correct"], False).to_numpy(zero_copy_only=False)
    ok = pc.fill_null(pc.equal(pc.utf8_upper(table["status"]), "OK"), False)
    ok = pc.and_(ok, pc.is_valid(table["latency_ns"])).to_numpy(zero_copy_only=False)
    latency = pc.fill_null(table["latency_ns"], 0).to_numpy(zero_copy_only=False)

    keys: dict[tuple[str, str], list[int]] = {}
    for i, key in enumerate(zip(tools.tolist(), arm_col.tolist(), strict=True)):
        keys.setdefault(key, []).append(i)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (tool, arm), idx_list in keys.items():
        if tool is None or arm is None:  # not a (tool, arm) result
            continue
        idx = np.asarray(idx_list)
        lat = latency[idx][ok[idx]].astype(np.float64)
        rows[(tool, arm)] = {
            "tool": tool,
            "arm": arm,
            "n": int(idx.size),
            "n_ok": int(lat.size),
            "accuracy": float(correct[idx].mean()),
            "latency_mean_ns": float(lat.mean()) if lat.size else None,
            "latency_p50_ns": float(np.percentile(lat, 50)) if lat.size else None,
            "latency_p99_ns": float(np.percentile(lat, 99)) if lat.size else None,
        }
    for (tool, _arm), row in rows.items():
        ref = rows.get((tool, reference_arm))
        ref_p50 = ref["latency_p50_ns"] if ref else None
        p50 = row["latency_p50_ns"]
        row["speed_ratio"] = p50 / ref_p50 if p50 is not None and ref_p50 else None
        row["reference_arm"] = reference_arm
        row["metadata"] = {"n_ok": row["n_ok"]}
    return sorted(rows.values(), key=lambda r: (str(r["tool"]), str(r["arm"])))
