"""The one reduction: the report, the SQL results and the quickstart table agree on a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcplab.report import ReportSettings, arm_table, build_report, reduce_trials
from tcplab.report.reduce import SAFETY_METRICS, ArmReduction
from tcplab.store import compute_results, open_store, query_runs

from .conftest import SyntheticRun

FAST = ReportSettings(n_resamples=300)
CODE_NAMES = dict(enumerate(["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]))
CODE_NAMES |= {-1: "UNKNOWN", -2: "PARSE_FAILURE"}


def _sql_rows(run_dir: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """The run's results written to a real SQLite store and read back with a query."""
    pytest.importorskip("sqlalchemy")
    meta = json.loads((run_dir / "run.json").read_text())
    with open_store(f"sqlite:///{tmp_path / 'store.sqlite'}") as store:
        store.upsert_run(meta)
        store.write_results(meta["run_id"], compute_results(run_dir))
        return query_runs(store)


def _check_arm(
    summary: dict[str, Any],
    arm: str,
    row: ArmReduction,
    sql: list[dict[str, Any]],
    meta: dict[tuple[str, str], dict[str, Any]],
) -> None:
    s = summary["arms"][arm]
    assert s["n_tools"] == row.n_tools == len(sql)
    assert s["n_trials"] == row.n_trials == sum(r["n"] for r in sql)
    assert s["failures"]["n_failed"] == row.n_failed
    assert row.n_failed == sum(meta[(r["tool"], arm)]["n_failed"] for r in sql)
    accs = [r["accuracy"] for r in sql if r["accuracy"] is not None]
    assert s["accuracy_exact"]["estimate"] == row.accuracy == pytest.approx(np.mean(accs))
    p50s = [r["latency_p50_ns"] for r in sql if r["latency_p50_ns"] is not None]
    lat = s["latency_ns"]
    if p50s:
        assert lat["p50"] == row.latency_p50_ns == pytest.approx(np.percentile(p50s, 50))
        assert lat["p99"] == row.latency_p99_ns == pytest.approx(np.percentile(p50s, 99))
    else:
        assert lat["p50"] is row.latency_p50_ns is None
        assert lat["p99"] is row.latency_p99_ns is None
    assert lat["n_tools"] == row.n_tools_timed == len(p50s)
    assert lat["n_cache_hits"] == row.n_cache_hits
    for m in SAFETY_METRICS:
        assert s["safety"][m]["estimate"] == getattr(row, m)
    for r in sql:
        per_tool = summary["per_tool"][arm][r["tool"]]
        assert per_tool["median_latency_ns"] == r["latency_p50_ns"]
        assert per_tool["fraction_correct"] == r["accuracy"]
        assert per_tool["modal"] == CODE_NAMES[meta[(r["tool"], arm)]["modal"]]


@pytest.fixture(params=["real", "synthetic"])
def agreement_run(request: pytest.FixtureRequest, synthetic_run: SyntheticRun) -> Path:
    """The real fake-analyzer run, and a synthetic one with cache hits and parse failures."""
    if request.param == "real":
        path: Path = request.getfixturevalue("real_run")
        return path
    return synthetic_run(n_tools=40)


def test_report_sql_results_and_quickstart_table_agree(agreement_run: Path, tmp_path: Path) -> None:
    files = build_report(agreement_run, FAST, out_dir=tmp_path / "report")
    summary = json.loads(files.summary.read_text())
    table = {r.arm: r for r in arm_table(agreement_run)}
    assert list(table) == summary["arm_order"]
    sql = _sql_rows(agreement_run, tmp_path)
    meta = {(r["tool"], r["arm"]): r["metadata"] for r in compute_results(agreement_run)}
    for arm in summary["arm_order"]:
        _check_arm(summary, arm, table[arm], [r for r in sql if r["arm"] == arm], meta)
        if arm != summary["settings"]["reference_arm"]:
            assert summary["vs_reference"][arm]["estimate"] == table[arm].speed_ratio
    ref = summary["settings"]["reference_arm"]
    for r in sql:
        assert r["speed_ratio"] is None or r["speed_ratio"] == pytest.approx(
            r["latency_p50_ns"] / summary["per_tool"][ref][r["tool"]]["median_latency_ns"]
        )


def test_an_arm_whose_every_call_failed_reports_no_latency_not_a_fast_one(
    real_run: Path, tmp_path: Path
) -> None:
    files = build_report(real_run, FAST, out_dir=tmp_path / "report")
    summary = json.loads(files.summary.read_text())
    down = summary["arms"]["down"]
    assert down["failures"]["n_failed"] == down["n_trials"] == 90
    lat = down["latency_ns"]
    assert lat["available"] is False and lat["n_failed_excluded"] == 90
    assert lat["p50"] is None and lat["p90"] is None and lat["p99"] is None
    assert all(v["median_latency_ns"] is None for v in summary["per_tool"]["down"].values())
    assert summary["vs_reference"]["down"]["estimate"] is None
    (row,) = [r for r in arm_table(real_run) if r.arm == "down"]
    assert row.latency_p50_ns is None and row.speed_ratio is None and row.n_failed == 90
    sql = [r for r in compute_results(real_run) if r["arm"] == "down"]
    assert all(r["latency_p50_ns"] is None for r in sql)
    md = files.markdown.read_text()
    down_row = next(line for line in md.splitlines() if line.startswith("| down | m"))
    assert "| — | — | — |" in down_row and " 0 ns" not in down_row
    assert "down: no latency" in md


def test_failed_trials_of_a_partly_failing_arm_stay_out_of_its_latency(real_run: Path) -> None:
    rows = {(r.arm, r.tool): r for r in reduce_trials(real_run)}
    failed = rows[("flaky", "tool03")]
    assert failed.n_failed == failed.n_trials == 3 and failed.latency_median_ns is None
    assert failed.latencies_ns == () and failed.fraction_correct == 0.0
    ok = rows[("flaky", "tool04")]
    assert ok.n_failed == 0 and len(ok.latencies_ns) == 3


def test_cache_hits_stay_out_of_latency_and_count_for_accuracy(
    synthetic_run: SyntheticRun,
) -> None:
    rows = [r for r in reduce_trials(synthetic_run(n_tools=40)) if r.arm == "llm"]
    hits = [r for r in rows if r.n_cache_hits]
    assert hits, "the synthetic llm arm has cache hits"
    for r in hits:  # cache hits have latency 50 ns; every timed llm call is >= 1 ms
        assert len(r.latencies_ns) == r.n_ok - r.n_cache_hits
        assert all(v > 10_000 for v in r.latencies_ns)
        assert len(r.predictions) == r.n_trials


def test_decision_safety_rates(real_run: Path) -> None:
    table = {r.arm: r for r in arm_table(real_run)}
    # labels: tool i is LEVELS[i % 5], tool00 CRITICAL; 13 tools HIGH_RISK or CRITICAL
    tcp, fake, down = table["tcp"], table["fake"], table["down"]
    assert tcp.n_tools_high_or_critical == 13 and tcp.n_tools_critical == 7
    assert tcp.unsafe_approval_rate == pytest.approx(1 / 13)  # tool00: SAFE in the registry
    assert tcp.critical_undercall_rate == pytest.approx(1 / 7)
    assert tcp.friction_rate == 0.0 and tcp.coverage == 1.0
    assert fake.unsafe_approval_rate == 1.0 and fake.friction_rate == 0.0  # approves all
    assert fake.critical_undercall_rate == 1.0
    assert down.unsafe_approval_rate == 0.0 and down.friction_rate == 1.0  # fails closed
    assert down.coverage == 0.0 and down.critical_undercall_rate == 1.0


def test_report_shows_unsafe_approvals_before_accuracy(real_run: Path, tmp_path: Path) -> None:
    files = build_report(real_run, FAST, out_dir=tmp_path / "report")
    summary = json.loads(files.summary.read_text())
    fake = summary["arms"]["fake"]["safety"]["unsafe_approval_rate"]
    assert fake["estimate"] == 1.0 and fake["n_tools"] == 13 and len(fake["ci"]) == 2
    md = files.markdown.read_text()
    assert md.index("Unsafe approvals tcp") < md.index("Accuracy tcp")
    assert md.index("### Decision safety") < md.index("### Accuracy against ground truth")
