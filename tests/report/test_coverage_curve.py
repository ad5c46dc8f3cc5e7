"""The coverage–accuracy curve in the report: tcp arms on a learned registry, trial confidences."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tcplab.analyzers import default_registry
from tcplab.descriptor import encode
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment
from tcplab.generator import coverage_curve
from tcplab.registry import write_registry
from tcplab.report import ReportSettings, build_report

from .conftest import LEVELS, SyntheticRun

FAST = ReportSettings(n_resamples=200)


def _run(base: Path) -> tuple[Path, dict[str, Any]]:
    """20 labelled tools; arm ``learned`` on a registry whose explanation records carry a
    confidence (as a learned generator writes them), arm ``ruled`` on one whose records do not."""
    tools = [f"tool{i:02d}" for i in range(20)]
    truth = {t: i % 5 for i, t in enumerate(tools)}
    pred = {
        t: (-1 if i % 7 == 6 else (i % 5 if i % 3 else (i + 1) % 5)) for i, t in enumerate(tools)
    }
    conf = {t: round(0.3 + 0.035 * i, 3) for i, t in enumerate(tools)}
    regs: dict[str, Path] = {}
    for arm, with_conf in (("learned", True), ("ruled", False)):
        reg = base / f"{arm}.tcpdb"
        write_registry(
            reg, [(t, encode(t, LEVELS[p] if p >= 0 else "UNKNOWN")) for t, p in pred.items()]
        )
        recs: list[dict[str, Any]] = [
            {"tool": t, "generator": "ordinal" if with_conf else "rules",
             **({"confidence": conf[t]} if with_conf else {"fired": []})}
            for t in tools
        ]  # fmt: skip
        reg.with_suffix(".explain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
        regs[arm] = reg
    labels = base / "labels.csv"
    labels.write_text(
        "command,risk_level,capabilities,rationale,labeler\n"
        + "".join(f"{t},{LEVELS[v]},,synthetic,test\n" for t, v in truth.items())
    )
    spec: dict[str, Any] = {
        "spec_version": 1, "name": "curve", "labels": str(labels), "tools": {"kind": "labeled"},
        "arms": [{"name": a, "analyzer": "tcp", "params": {"registry": str(r)}}
                 for a, r in regs.items()],
        "iterations": 2, "warmup": 0, "seed": 3, "shard_size": 40,
        "executor": {"kind": "inline", "workers": 1}, "micro_min_batch_ns": 100_000,
    }  # fmt: skip
    (base / "spec.yaml").write_text(yaml.safe_dump(spec))
    parsed = load_spec(base / "spec.yaml", default_registry().names())
    run_dir, _meta, _plan = prepare_run(parsed, base, base / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    want = coverage_curve(list(truth.values()), list(pred.values()), list(conf.values()))
    return run_dir, {"want": want, "learned": regs["learned"]}


def test_tcp_arm_on_a_learned_registry_gets_the_curve_in_every_view(tmp_path: Path) -> None:
    run_dir, ctx = _run(tmp_path)
    files = build_report(run_dir, FAST)
    arms = json.loads(files.summary.read_text())["arms"]
    curve = arms["learned"]["coverage_curve"]
    assert curve["source"] == "registry explanations"
    assert curve["points"] == ctx["want"]  # the same function as `descriptors evaluate`
    assert curve["points"][-1]["coverage"] == 1.0 and len(curve["points"]) == 10
    assert arms["ruled"]["coverage_curve"] is None  # a rules registry has no confidence
    md, html = files.markdown.read_text(), files.html.read_text()
    for text in (md, html):
        assert "Coverage–accuracy" in text and "learned (confidence from registry" in text
        assert "ruled (confidence" not in text


def test_a_registry_regenerated_after_the_run_is_not_used(tmp_path: Path) -> None:
    run_dir, ctx = _run(tmp_path)
    explain = ctx["learned"].with_suffix(".explain.jsonl")
    explain.write_text(explain.read_text().replace("0.3", "0.99"))  # regenerated since
    assert "0.99" in explain.read_text()
    arms = json.loads(build_report(run_dir, FAST).summary.read_text())["arms"]
    assert arms["learned"]["coverage_curve"] is None


def test_trial_confidences_come_first(tmp_path: Path, synthetic_run: SyntheticRun) -> None:
    from tcplab.experiment import read_trials, write_run_from_trials
    from tcplab.experiment.trials import to_table

    src = synthetic_run(n_tools=60, arms=("tcp", "rules"), iterations=2)
    table = read_trials(src)
    rows = table.to_pylist()
    for i, r in enumerate(rows):
        r["confidence"] = (i % 10) / 10 if r["arm"] == "tcp" else None
    meta = json.loads((src / "run.json").read_text())
    keep = ("name", "spec", "spec_hash", "seed", "labels", "status", "environment")
    out = tmp_path / "with-conf"
    write_run_from_trials(out, to_table(rows), shard_size=1000, run_id="with-conf",
                          **{k: meta[k] for k in keep if k in meta})  # fmt: skip
    arms = json.loads(build_report(out, FAST).summary.read_text())["arms"]
    assert arms["tcp"]["coverage_curve"]["source"] == "trials"
    assert arms["rules"]["coverage_curve"] is None
    points = arms["tcp"]["coverage_curve"]["points"]
    assert [p["coverage"] for p in points] == sorted(p["coverage"] for p in points)
