"""Descriptor generation and evaluation, end to end through the CLI on real tools."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tcplab.descriptor import RiskLevel

from ..conftest import Runner

TOOLS = ["ls", "cat", "rm", "cp", "chmod", "ps", "mkfs", "dd", "gzip", "zcat"]


def _bin_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    for t in TOOLS:
        found = shutil.which(t, path="/usr/sbin:/usr/bin:/sbin:/bin")
        assert found, t
        (d / t).symlink_to(found)
    (d / "no-docs-here").write_text("#!/bin/sh\nexit 0\n")
    (d / "no-docs-here").chmod(0o755)
    return d


def test_scan_generate_lookup_and_evaluate(tcplab: Runner, tmp_path: Path) -> None:
    bin_dir = _bin_dir(tmp_path)
    corpus = tmp_path / "corpus.parquet"
    res = tcplab("corpus", "scan", "--path-dirs", str(bin_dir), "--out", str(corpus))
    assert res.returncode == 0, res.stderr
    db = tmp_path / "tools.tcpdb"
    res = tcplab("descriptors", "generate", "--corpus", str(corpus), "--out", str(db))
    assert res.returncode == 0, res.stderr
    assert "wrote 11 descriptors" in res.stdout
    explain = [json.loads(x) for x in (tmp_path / "tools.explain.jsonl").read_text().splitlines()]
    by_tool = {e["tool"]: e for e in explain}
    assert by_tool["no-docs-here"]["risk_level"] == "UNKNOWN"
    assert by_tool["rm"]["fired"][0]["rule"] == "critical-remove-data"
    for tool in [*TOOLS, "no-docs-here"]:
        res = tcplab("registry", "lookup", str(db), tool, "--json")
        assert res.returncode == 0, (tool, res.stderr)
        obj = json.loads(res.stdout)
        assert obj["exec_time_ms"] == obj["memory_mb"] == obj["output_kb"] == 0
    assert (
        json.loads(tcplab("registry", "lookup", str(db), "rm", "--json").stdout)["decision"]
        == "REJECT"
    )
    assert (
        json.loads(tcplab("registry", "lookup", str(db), "no-docs-here", "--json").stdout)[
            "decision"
        ]
        == "REQUIRE_APPROVAL"
    )
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "command,risk_level,capabilities,rationale,labeler\n"
        "ls,SAFE,,lists,T\nrm,CRITICAL,DESTRUCTIVE,deletes,T\ncat,SAFE,,prints,T\n"
        "chmod,HIGH_RISK,,perms,T\nabsent-tool,LOW_RISK,,x,T\n"
    )
    res = tcplab(
        "descriptors",
        "evaluate",
        "--registry",
        str(db),
        "--labels",
        str(labels),
        "--split",
        "all",
        "--json",
    )
    assert res.returncode == 0, res.stderr
    ev = json.loads(res.stdout)
    assert ev["n"] == 5 and ev["n_missing"] == 1
    assert ev["exact"] == 0.8
    missing = [d for d in ev["disagreements"] if d["tool"] == "absent-tool"]
    assert missing and missing[0]["predicted"] == "MISSING"
    res = tcplab(
        "descriptors", "evaluate", "--registry", str(db), "--labels", str(labels), "--split", "all"
    )
    assert "exact accuracy      0.800" in res.stdout and "absent-tool" in res.stdout
    assert RiskLevel.UNKNOWN.name in ev["confusion_cols"]


def test_generate_without_corpus_says_what_to_run(tcplab: Runner, tmp_path: Path) -> None:
    res = tcplab("descriptors", "generate", "--corpus", str(tmp_path / "nope.parquet"))
    assert res.returncode != 0 and "tcplab corpus scan" in res.stderr
    assert "Traceback" not in res.stderr
