"""Per-tool per-arm aggregates."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from tcplab.errors import UsageError
from tcplab.store import compute_results

from ._runs import make_run


def _table(rows: list[tuple[str, str, str, bool | None, int | None]]) -> pa.Table:
    tool, arm, status, correct, latency = zip(*rows, strict=True)
    return pa.table(
        {
            "tool": list(tool),
            "arm": list(arm),
            "status": list(status),
            "correct": pa.array(correct, pa.bool_()),
            "latency_ns": pa.array(latency, pa.int64()),
        }
    )


ROWS = [
    ("rm", "rules", "OK", True, 300),
    ("rm", "rules", "OK", False, 100),
    ("rm", "rules", "ERROR", None, 9_999_999),  # errors: counted in n, not in latency
    ("rm", "tcp", "OK", True, 10),
    ("rm", "tcp", "OK", True, 30),
    ("ls", "tcp", "OK", True, 5),
    ("ls", "rules", "OK", True, None),  # no latency: no ratio
]


def test_accuracy_percentiles_and_ratio_against_tcp() -> None:
    res = {(r["tool"], r["arm"]): r for r in compute_results(_table(ROWS))}
    rules = res[("rm", "rules")]
    assert rules["n"] == 3 and rules["n_ok"] == 2
    assert rules["accuracy"] == pytest.approx(1 / 3)  # a null `correct` is not correct
    assert rules["latency_p50_ns"] == 200 and rules["latency_mean_ns"] == 200
    assert rules["latency_p99_ns"] == pytest.approx(298)
    assert rules["speed_ratio"] == pytest.approx(200 / 20)
    assert rules["reference_arm"] == "tcp"
    assert res[("rm", "tcp")]["speed_ratio"] == 1.0
    assert res[("ls", "rules")]["speed_ratio"] is None
    assert res[("ls", "rules")]["latency_p50_ns"] is None
    assert list(res) == sorted(res)


def test_reference_defaults_to_first_arm_without_tcp_and_can_be_chosen() -> None:
    rows = [r for r in ROWS if r[1] != "tcp"] + [("rm", "llm", "OK", True, 2000)]
    res = {(r["tool"], r["arm"]): r for r in compute_results(_table(rows))}
    assert res[("rm", "llm")]["reference_arm"] == "rules"
    assert res[("rm", "llm")]["speed_ratio"] == pytest.approx(2000 / 200)
    chosen = {(r["tool"], r["arm"]): r for r in compute_results(_table(rows), "llm")}
    assert chosen[("rm", "rules")]["speed_ratio"] == pytest.approx(200 / 2000)
    with pytest.raises(UsageError, match="reference arm 'nope'"):
        compute_results(_table(rows), "nope")


def test_from_a_run_directory(isolated_home: Path) -> None:
    run_dir = make_run(isolated_home, shards=2, per_shard=60)
    res = compute_results(run_dir)
    assert sum(r["n"] for r in res) == 120
    assert {r["arm"] for r in res} == {"tcp", "rules", "llm"}
    llm = next(r for r in res if r["arm"] == "llm")
    assert llm["speed_ratio"] > 100  # fake latencies: llm ≈ 900 µs vs tcp ≈ 1 µs
