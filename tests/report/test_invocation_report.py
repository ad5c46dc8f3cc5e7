"""The report of a run on invocation inputs (issue 16) scores decisions with score_trials.

A real run through the engine: the registered ``invocation`` arm and a ``fake`` arm that answers
SAFE (so APPROVE) on every line, over a small invocation labels file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tcplab.analyzers import default_registry
from tcplab.check import TRIAL_METRICS, score_trials
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment
from tcplab.report import ReportSettings, build_report

FAST = ReportSettings(n_resamples=200)
HEADER = "command_line,decision,risk_level,capabilities,rationale,labeler"
LINES = [
    ("git status", "APPROVE", "SAFE", ""),
    ("git push --force origin main", "REQUIRE_APPROVAL", "HIGH_RISK", "NETWORK_ACCESS"),
    ("rm -rf /", "REJECT", "CRITICAL", "DESTRUCTIVE|FILE_MODIFICATION"),
    ("rm notes.txt", "CAUTION", "MEDIUM_RISK", "FILE_MODIFICATION"),
    ("ls -la", "APPROVE", "SAFE", ""),
    ("find / -delete", "REJECT", "CRITICAL", "DESTRUCTIVE|FILE_MODIFICATION"),
    ("chmod 777 /etc/shadow", "REJECT", "CRITICAL", "SYSTEM_MODIFICATION"),
    ("FOO=1 ./deploy.sh", "REQUIRE_APPROVAL", "UNKNOWN", ""),
]


@pytest.fixture(scope="module")
def invocation_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("invocation-run")
    labels = base / "invocations.csv"
    rows = [HEADER]
    for line, decision, level, caps in LINES:
        rows.append(f'"{line}",{decision},{level},{caps},synthetic report test,test')
    labels.write_text("\n".join(rows) + "\n")
    spec: dict[str, Any] = {
        "spec_version": 1,
        "name": "invocation report test",
        "labels": str(labels),
        "tools": {"kind": "labeled"},
        "arms": [
            {"name": "tcp-invocation", "analyzer": "invocation"},
            {"name": "approve-all", "analyzer": "fake", "params": {"level": "SAFE"}},
        ],
        "iterations": 2,
        "warmup": 0,
        "seed": 5,
        "shard_size": 16,
        "executor": {"kind": "inline"},
        "micro_min_batch_ns": 100_000,
    }
    spec_path = base / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    parsed = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(parsed, base, base / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    return run_dir


def _cell(d: dict[str, Any]) -> str:
    ci = d["ci"]
    return (
        f"{d['count']}/{d['n']} = {100 * d['rate']:.1f}% "
        f"[{100 * ci['low']:.1f}%, {100 * ci['high']:.1f}%]"
    )


def test_summary_and_markdown_carry_score_trials(invocation_run: Path) -> None:
    files = build_report(invocation_run, FAST)
    summary = json.loads(files.summary.read_text())
    scores = json.loads(json.dumps(score_trials(invocation_run)))  # as JSON numbers
    dec = summary["decisions"]
    assert dec["arm_order"] == ["tcp-invocation", "approve-all"] == summary["arm_order"]
    assert dec["metrics"] == list(TRIAL_METRICS) and dec["metrics"][0] == "unsafe_approval"
    assert dec["arms"] == scores  # every figure is score_trials'
    fake = dec["arms"]["approve-all"]["unsafe_approval"]
    assert fake["n"] == 2 * 5 and fake["count"] == 10  # 5 lines need approval, 2 iterations
    assert dec["arms"]["tcp-invocation"]["unsafe_approval"]["count"] == 0
    md = files.markdown.read_text()
    table = md.index("Decisions on command lines (unsafe approvals first)")
    # the level results follow as secondary; the per-tool level safety table of tool runs and
    # its key-result lines are not shown for command lines (they would contradict the decisions)
    assert table < md.index("### Risk levels (secondary)")
    assert "Decision safety (unsafe approvals first)" not in md
    assert "tools labelled HIGH_RISK or CRITICAL were APPROVEd" not in md
    assert "per tool first" not in md and "resamples tool groups" in md
    header = md[table:].split("\n| arm |", 1)[1].split("\n", 1)[0]
    assert header.index("unsafe approvals") < header.index("exact decisions")
    for arm, s in scores.items():
        for metric in TRIAL_METRICS:
            assert _cell(s[metric]) in md, (arm, metric)
    key = md.index("## Key results")
    assert md.index("Unsafe approvals approve-all (decisions): 10/10 = 100.0%", key) < md.index(
        "## Run"
    )
    html = files.html.read_text()
    assert "Decisions on command lines" in html and _cell(fake) in html


def test_tool_runs_have_no_decision_section(real_run: Path, tmp_path: Path) -> None:
    files = build_report(real_run, FAST, out_dir=tmp_path / "report")
    summary = json.loads(files.summary.read_text())
    assert summary["decisions"] is None
    md = files.markdown.read_text()
    assert "Decisions on command lines" not in md and "Risk levels (secondary)" not in md
    assert "Decision safety (unsafe approvals first)" in md
