"""tcplab report: summary.json numbers recomputed from raw trials, schema, files, CLI."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.compute as pc
import pytest
import typer
from typer.testing import CliRunner

from tcplab.cli.report import register
from tcplab.errors import MissingDependencyError
from tcplab.experiment import read_trials
from tcplab.report import SUMMARY_SCHEMA_VERSION, ReportSettings, build_report, resolve_run

from .conftest import SyntheticRun, make_synthetic_run

FAST = ReportSettings(n_resamples=400)
ARM_KEYS = {
    "n_tools",
    "n_trials",
    "accuracy_exact",
    "kappa_quadratic",
    "latency_ns",
    "failures",
    "cost",
    "variability",
    "confusion",
}
PAIR_KEYS = {
    "ratio_of_medians",
    "welch_log",
    "mann_whitney",
    "hedges_g",
    "cliffs_delta",
    "mcnemar_p",
    "mcnemar_p_holm",
    "accuracy_difference",
    "tost",
    "agreement",
}


def _summary(run_dir: Path, settings: ReportSettings = FAST) -> dict[str, Any]:
    files = build_report(run_dir, settings)
    return dict(json.loads(files.summary.read_text()))


def test_summary_numbers_recompute_from_raw_trials(synthetic_run: SyntheticRun) -> None:
    run_dir = synthetic_run(n_tools=80)
    summary = _summary(run_dir)
    t = read_trials(run_dir).to_pydict()
    for arm in summary["arm_order"]:
        rows = [i for i, a in enumerate(t["arm"]) if a == arm]
        lat: dict[str, list[int]] = {}
        correct: dict[str, list[bool]] = {}
        for i in rows:
            if t["status"][i] == "OK" and not t["cache_hit"][i]:  # failures: no latency
                lat.setdefault(t["tool"][i], []).append(t["latency_ns"][i])
            if t["label"][i] is not None:
                correct.setdefault(t["tool"][i], []).append(bool(t["correct"][i]))
        medians = {tool: float(np.median(v)) for tool, v in lat.items()}
        per_tool = summary["per_tool"][arm]
        for tool, med in medians.items():
            assert per_tool[tool]["median_latency_ns"] == pytest.approx(med, rel=1e-12)
        s = summary["arms"][arm]
        p50 = float(np.percentile(list(medians.values()), 50))
        p99 = float(np.percentile(list(medians.values()), 99))
        assert s["latency_ns"]["p50"] == pytest.approx(p50, rel=1e-12)
        assert s["latency_ns"]["p99"] == pytest.approx(p99, rel=1e-12)
        acc = float(np.mean([np.mean(v) for v in correct.values()]))
        assert s["accuracy_exact"]["estimate"] == pytest.approx(acc, abs=1e-12)
        assert s["n_trials"] == len(rows)
        assert s["latency_ns"]["n_cache_hits"] == sum(bool(t["cache_hit"][i]) for i in rows)
        n_pf = sum(t["status"][i] == "PARSE_FAILURE" for i in rows)
        assert s["failures"]["n_parse_failure"] == n_pf
    llm = summary["arms"]["llm"]["cost"]
    cost = sum(c for a, c in zip(t["arm"], t["cost_usd"], strict=True) if a == "llm" and c)
    assert llm["total_usd"] == pytest.approx(cost)
    assert llm["per_decision_usd"] == pytest.approx(cost / summary["arms"]["llm"]["n_trials"])
    tcp_cpu = sum(v for a, v in zip(t["arm"], t["latency_ns"], strict=True) if a == "tcp")
    assert summary["arms"]["tcp"]["cost"]["total_usd"] == pytest.approx(tcp_cpu / 1e9 / 3600 * 0.05)
    assert summary["labels"]["n_tools_unlabeled"] == 1  # every 50th tool has no label


def test_summary_schema_significance_and_holm(synthetic_run: SyntheticRun) -> None:
    summary = _summary(synthetic_run(n_tools=60))
    assert summary["summary_schema_version"] == SUMMARY_SCHEMA_VERSION
    assert {"run_id", "spec_hash", "plan_hash", "seed", "git_commit"} <= set(summary["run"])
    assert summary["settings"]["n_resamples"] == 400
    assert summary["settings"]["confidence"] == 0.95
    for arm in summary["arms"].values():
        assert set(arm) >= ARM_KEYS
        assert len(arm["accuracy_exact"]["ci"]) == 2 and "ci" in arm["kappa_quadratic"]
    assert len(summary["pairs"]) == 6
    raw, adj = [], []
    for pair in summary["pairs"]:
        assert set(pair) >= PAIR_KEYS
        for test in ("welch_log", "mann_whitney", "mcnemar"):
            d = pair[test]
            assert d["p_holm"] >= d["p_value"] - 1e-15
            assert d["verdict_holm"] == (
                "significant" if d["significant_holm"] else "not significant"
            )
            raw.append(d["p_value"])
            adj.append(d["p_holm"])
        for key in ("ratio_of_medians", "accuracy_difference"):
            d = pair[key]
            if not d["significant"]:
                assert d["verdict"].startswith("not significant")
    assert summary["multiple_comparisons"]["family_size"] == 18
    m = len(raw)
    assert min(adj) == pytest.approx(min(1.0, m * min(raw)))


def test_real_run_report_files_and_caveats(real_run: Path) -> None:
    files = build_report(real_run, FAST)
    summary = json.loads(files.summary.read_text())
    assert summary["arm_order"] == ["tcp", "fake", "flaky", "down"]
    assert summary["settings"]["reference_arm"] == "tcp"
    tcp = summary["arms"]["tcp"]
    assert tcp["latency_is_batch_mean"] is True
    assert tcp["accuracy_exact"]["estimate"] == pytest.approx(29 / 30)
    flaky = summary["arms"]["flaky"]["failures"]
    assert flaky["by_status"]["ERROR"] == 6 and flaky["n_unknown"] == 6
    assert summary["run"]["labels_path"].endswith("labels.csv")
    md = files.markdown.read_text()
    for text in ("## Methods", "batch mean", "Holm", "not significant", "## Caveats"):
        assert text in md
    assert "tool00" in md  # tcp disagrees with the label there
    assert all(p.is_file() and p.stat().st_size > 1000 for p in files.plots)


def test_html_is_self_contained(synthetic_run: SyntheticRun) -> None:
    files = build_report(synthetic_run(n_tools=40), FAST)
    page = files.html.read_text()
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!#|data:)""", page)
    n_plots = len(files.plots)
    assert page.count("<svg") == n_plots >= 4 + 3


def test_report_of_400_tools_4_arms_3_iterations_with_default_resamples(tmp_path: Path) -> None:
    # scale check only; how long it takes is measured by hand (about 8 s), never asserted here
    run_dir = make_synthetic_run(tmp_path)
    files = build_report(run_dir)  # default 10,000 resamples
    summary = json.loads(files.summary.read_text())
    assert summary["arms"]["tcp"]["n_tools"] == 400


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_report_by_run_id_under_home(isolated_home: Path, tmp_path: Path) -> None:
    runs = isolated_home / "runs"
    run_dir = make_synthetic_run(runs, n_tools=30, run_id="r1")
    res = CliRunner().invoke(_cli(), ["report", "r1", "--resamples", "200", "--seed", "3"])
    assert res.exit_code == 0, res.output
    summary = json.loads((run_dir / "report" / "summary.json").read_text())
    assert summary["settings"]["seed"] == 3 and summary["settings"]["n_resamples"] == 200
    out = tmp_path / "elsewhere"
    res = CliRunner().invoke(
        _cli(), ["report", str(run_dir), "--out", str(out), "--resamples", "200", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["run"]["run_id"] == "r1"
    assert (out / "report.html").is_file()


def test_compare_detects_a_slowdown_and_gates_on_it(tmp_path: Path) -> None:
    a = make_synthetic_run(tmp_path, n_tools=60, run_id="a", seed=5)
    b = make_synthetic_run(tmp_path, n_tools=60, run_id="b", seed=5, slow={"rules": 2.0})
    runner = CliRunner()
    common = ["--resamples", "500"]
    res = runner.invoke(_cli(), ["compare", str(a), str(b), "--arm", "rules", "--json", *common])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    lat = out["arms"]["rules"]["latency"]["ratio_b_over_a"]
    assert lat["verdict"] == "slower" and lat["estimate"] == pytest.approx(2.0, rel=0.01)
    assert out["regression"] is True
    gate = ["compare", str(a), str(b), "--fail-on-regression", *common]
    assert runner.invoke(_cli(), gate).exit_code == 1
    same = runner.invoke(_cli(), ["compare", str(a), str(a), "--fail-on-regression", *common])
    assert same.exit_code == 0, same.output
    assert "not significant" in same.output
    fast = runner.invoke(_cli(), ["compare", str(b), str(a), "--arm", "rules", "--json", *common])
    assert json.loads(fast.output)["arms"]["rules"]["latency"]["ratio_b_over_a"]["verdict"] == (
        "faster"
    )


def test_compare_within_noise_threshold_is_not_significant(tmp_path: Path) -> None:
    a = make_synthetic_run(tmp_path, n_tools=60, run_id="a", seed=5)
    b = make_synthetic_run(tmp_path, n_tools=60, run_id="b", seed=5, slow={"tcp": 1.03})
    res = CliRunner().invoke(
        _cli(), ["compare", str(a), str(b), "--arm", "tcp", "--json", "--resamples", "500"]
    )
    lat = json.loads(res.output)["arms"]["tcp"]["latency"]["ratio_b_over_a"]
    assert lat["ci_excludes_1"] is True and lat["within_noise"] is True
    assert lat["verdict"] == "not significant"


def test_s3_url_without_the_store_package_names_the_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the real S3 path is tested end to end in tests/store/test_report_from_s3.py (SeaweedFS)
    monkeypatch.setitem(sys.modules, "tcplab.store", None)
    with pytest.raises(MissingDependencyError, match="fetch_run"):
        resolve_run("s3://bucket/runs/remote")


def test_unknown_reference_arm_is_a_usage_error(synthetic_run: SyntheticRun) -> None:
    from tcplab.errors import UsageError

    with pytest.raises(UsageError, match="reference arm"):
        build_report(synthetic_run(n_tools=10), ReportSettings(n_resamples=50, reference_arm="x"))


def test_micro_arm_tcp_column_is_consistent(real_run: Path) -> None:
    t = read_trials(real_run)
    tcp = t.filter(pc.equal(t["arm"], "tcp"))
    assert set(tcp["timing_mode"].to_pylist()) == {"micro"}
