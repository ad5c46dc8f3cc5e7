"""Per-tool per-arm aggregates (the SQL ``results`` rows), from the run's one reduction."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tcplab.errors import UsageError
from tcplab.experiment import write_run_from_trials
from tcplab.store import compute_results

from ._runs import trial_table

Row = tuple[str, str, str, str, str | None, bool, int | None]


def _table(rows: list[Row]) -> pa.Table:
    tool, arm, status, risk, label, cache, latency = zip(*rows, strict=True)
    return pa.table(
        {
            "tool": list(tool),
            "arm": list(arm),
            "status": list(status),
            "predicted_risk": list(risk),
            "label": pa.array(label, pa.string()),
            "cache_hit": pa.array(cache, pa.bool_()),
            "latency_ns": pa.array(latency, pa.int64()),
        }
    )


ROWS: list[Row] = [
    ("rm", "rules", "OK", "CRITICAL", "CRITICAL", False, 300),
    ("rm", "rules", "OK", "SAFE", "CRITICAL", False, 100),
    ("rm", "rules", "ERROR", "UNKNOWN", "CRITICAL", False, 9_999_999),  # failed: no latency
    ("rm", "tcp", "OK", "CRITICAL", "CRITICAL", False, 10),
    ("rm", "tcp", "OK", "CRITICAL", "CRITICAL", False, 30),
    ("ls", "tcp", "OK", "SAFE", "SAFE", False, 5),
    ("ls", "rules", "OK", "SAFE", "SAFE", False, None),  # no latency: no ratio
]


def _by_key(rows: list[Row], reference: str | None = None) -> dict[tuple[str, str], Any]:
    return {(r["tool"], r["arm"]): r for r in compute_results(_table(rows), reference)}


def test_accuracy_percentiles_and_ratio_against_tcp() -> None:
    res = _by_key(ROWS)
    rules = res[("rm", "rules")]
    assert rules["n"] == 3 and rules["n_ok"] == 2
    assert rules["metadata"]["n_failed"] == 1 and rules["metadata"]["n_timed"] == 2
    assert rules["accuracy"] == pytest.approx(1 / 3)  # the failed trial is wrong
    assert rules["latency_p50_ns"] == 200 and rules["latency_mean_ns"] == 200
    assert rules["latency_p99_ns"] == pytest.approx(298)
    assert rules["speed_ratio"] == pytest.approx(200 / 20)
    assert rules["reference_arm"] == "tcp"
    assert res[("rm", "tcp")]["speed_ratio"] == pytest.approx(1.0)
    assert res[("ls", "rules")]["speed_ratio"] is None
    assert res[("ls", "rules")]["latency_p50_ns"] is None
    assert list(res) == sorted(res)


def test_failed_trials_and_cache_hits_never_enter_latency() -> None:
    rows: list[Row] = [
        ("curl", "llm", "OK", "HIGH_RISK", "HIGH_RISK", False, 2_000_000),
        ("curl", "llm", "OK", "HIGH_RISK", "HIGH_RISK", True, 50),  # cache hit
        ("curl", "llm", "TIMEOUT", "UNKNOWN", "HIGH_RISK", False, 1),  # failure
    ]
    (row,) = compute_results(_table(rows))
    assert row["latency_p50_ns"] == row["latency_mean_ns"] == row["latency_p99_ns"] == 2_000_000
    assert row["metadata"]["n_cache_hits"] == 1 and row["metadata"]["n_failed"] == 1
    assert row["accuracy"] == pytest.approx(2 / 3)  # cache hits still count for accuracy


def test_an_arm_whose_every_call_failed_has_no_latency_not_a_fast_one() -> None:
    rows: list[Row] = [
        ("rm", "llm", "ERROR", "UNKNOWN", "CRITICAL", False, 2_000_000),  # connection refused
        ("rm", "llm", "ERROR", "UNKNOWN", "CRITICAL", False, 1_900_000),
        ("rm", "tcp", "OK", "CRITICAL", "CRITICAL", False, 40),
    ]
    res = _by_key(rows)
    llm = res[("rm", "llm")]
    assert llm["latency_p50_ns"] is None and llm["latency_mean_ns"] is None
    assert llm["latency_p99_ns"] is None and llm["speed_ratio"] is None
    assert llm["accuracy"] == 0.0 and llm["metadata"]["n_failed"] == 2


def test_unlabelled_tools_have_no_accuracy() -> None:
    (row,) = compute_results(_table([("x", "tcp", "OK", "SAFE", None, False, 10)]))
    assert row["accuracy"] is None and row["metadata"]["label"] is None


def test_reference_defaults_to_first_arm_without_tcp_and_can_be_chosen() -> None:
    rows = [r for r in ROWS if r[1] != "tcp"] + [("rm", "llm", "OK", "SAFE", None, False, 2000)]
    res = _by_key(rows)
    assert res[("rm", "llm")]["reference_arm"] == "rules"
    assert res[("rm", "llm")]["speed_ratio"] == pytest.approx(2000 / 200)
    chosen = _by_key(rows, "llm")
    assert chosen[("rm", "rules")]["speed_ratio"] == pytest.approx(200 / 2000)
    with pytest.raises(UsageError, match="reference arm 'nope'"):
        compute_results(_table(rows), "nope")


def test_a_table_without_labels_scores_with_the_correct_column() -> None:
    table = pa.table(
        {
            "tool": ["rm", "rm"],
            "arm": ["tcp", "tcp"],
            "status": ["OK", "OK"],
            "correct": pa.array([True, False]),
            "latency_ns": pa.array([10, 30], pa.int64()),
        }
    )
    (row,) = compute_results(table)
    assert row["accuracy"] == 0.5 and row["latency_p50_ns"] == 20


def test_no_trials_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no arm"):
        compute_results(_table(ROWS).slice(0, 0))


def test_from_a_run_directory(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-0001"
    trials = pa.concat_tables([trial_table("run-0001", s, 60, start_seq=s * 60) for s in (0, 1)])
    write_run_from_trials(run_dir, trials, shard_size=60, run_id="run-0001", name="compute")
    res = compute_results(run_dir)
    assert sum(r["n"] for r in res) == 120
    assert {r["arm"] for r in res} == {"tcp", "rules", "llm"}
    llm = next(r for r in res if r["arm"] == "llm")
    assert llm["speed_ratio"] > 100  # synthetic latencies: llm ≈ 900 µs vs tcp ≈ 1 µs
