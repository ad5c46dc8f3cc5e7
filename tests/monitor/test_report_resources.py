"""The report's resource section, from a real sampled run and from an unsampled one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tcplab.analyzers import default_registry
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment
from tcplab.report import build_report
from tcplab.report._resources import arm_phases


def _run(spec_path: Path, tmp: Path, interval: float) -> Path:
    spec = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp / "runs")
    run_experiment(run_dir, executor=InlineExecutor(), use_store=False, sample_interval=interval)
    return run_dir


def test_report_has_a_resource_section_with_a_plot(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _run(write_spec(iterations=10), tmp_path, 0.1)
    files = build_report(run_dir)
    page = files.html.read_text()
    assert "<h2>Resources</h2>" in page
    assert 'data-plot="resources"' in page
    assert "CPU-seconds per decision" in page
    assert (files.out_dir / "plots" / "resources.svg").is_file()
    md = files.markdown.read_text()
    assert "## Resources" in md and "plots/resources.svg" in md
    summary = json.loads(files.summary.read_text())
    res = summary["resources"]
    assert res["sources"]["cpu"] == "ok" and res["interval_s"] == 0.1
    assert all(v["cpu_seconds"] >= 0 for v in res["shards"].values())
    arms = res["arms"]
    assert set(arms) == {"tcp", "fake"}
    assert sum(a["decisions"] for a in arms.values()) == summary["run"]["n_trials_planned"]
    total = sum(v["cpu_seconds"] for v in res["shards"].values())
    assert abs(sum(a["cpu_seconds"] for a in arms.values()) - total) <= 1e-9 * max(1.0, total)
    assert "CPU ms / decision" in page


def test_sequential_arms_are_shaded_as_phases(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _run(write_spec(order="sequential", iterations=3), tmp_path, 0.1)
    phases = arm_phases(run_dir)
    assert set(phases) == {"tcp", "fake"}
    (a_lo, a_hi), (b_lo, b_hi) = sorted(phases.values())
    assert a_lo <= a_hi <= b_lo <= b_hi
    page = build_report(run_dir).html.read_text()
    assert "with shard boundaries and arm phases" in page
    interleaved = _run(write_spec(name="i.yaml", iterations=3), tmp_path / "i", 0.1)
    assert arm_phases(interleaved) == {}  # overlapping spans: no phases to mark


def test_report_of_an_unsampled_run_says_so(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _run(write_spec(), tmp_path, 0)
    page = build_report(run_dir).html.read_text()
    assert "No resource samples were taken for this run" in page
    assert 'data-plot="resources"' not in page
