"""Learned generators end to end on real man pages, the real MiniLM model and scikit-learn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tcplab.corpus import scan_tools, write_corpus
from tcplab.labels import read_labels
from tcplab.resources import shipped_labels

from ..conftest import Runner

pytestmark = pytest.mark.slow

SEARCH = "/usr/sbin:/usr/bin:/sbin:/bin"


def _bin_dir(tmp_path: Path, n: int) -> Path:
    """``n`` labelled tools of tcplab-v1.csv (symlinked) plus one undocumented script."""
    d = tmp_path / "bin"
    d.mkdir()
    added = 0
    for label in read_labels(shipped_labels("tcplab-v1.csv")):
        found = shutil.which(label.command, path=SEARCH)
        if found and added < n:
            (d / label.command).symlink_to(found)
            added += 1
    (d / "no-docs-here").write_text("#!/bin/sh\nexit 0\n")
    (d / "no-docs-here").chmod(0o755)
    return d


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("learned")
    return write_corpus(scan_tools([_bin_dir(tmp, 64)]).rows, tmp / "corpus.parquet")


@pytest.mark.parametrize("name", ["knn", "ensemble"])
def test_generate_with_a_learned_generator(
    name: str, corpus: Path, tcplab: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))
    db = tmp_path / f"{name}.tcpdb"
    res = tcplab("descriptors", "generate", "--corpus", str(corpus), "--out", str(db),
                 "--generator", name)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert f"generator {name}" in res.stdout and "grouped 5-fold CV" in res.stdout
    recs = {
        r["tool"]: r
        for r in map(json.loads, (tmp_path / f"{name}.explain.jsonl").read_text().splitlines())
    }
    assert recs["no-docs-here"]["risk_level"] == "UNKNOWN"
    for rec in recs.values():
        assert len(rec["model_sha256"]) == 64 and 0.0 <= rec["threshold"] <= 1.0
        assert rec["generator"] == name and rec["reason"]
        if rec["risk_level"] in ("SAFE", "LOW_RISK"):  # approved: confident and not dangerous
            assert rec["confidence"] >= rec["threshold"] and rec["p_danger"] <= rec["guard"]
    order = ["UNKNOWN", "SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
    if name == "ensemble":  # a HIGH/CRITICAL level rule that fired is never undercut
        for rec in recs.values():
            fired = [f["level"] for f in rec.get("fired", []) if f["kind"] == "level"]
            if fired and fired[0] in ("HIGH_RISK", "CRITICAL"):
                assert order.index(rec["risk_level"]) >= order.index(fired[0]), rec
    if name == "knn":
        documented = [r for t, r in recs.items() if t != "no-docs-here"]
        assert all("closest labelled tools: " in r["reason"] for r in documented)
    assert (tmp_path / "home" / "cache" / "generator").is_dir()  # embeddings cached
    res = tcplab("descriptors", "evaluate", "--registry", str(db), "--split", "all")
    assert res.returncode == 0, res.stderr
    assert "coverage–accuracy" in res.stdout and "unsafe_approval_rate" in res.stdout
    ev = json.loads(tcplab("descriptors", "evaluate", "--registry", str(db), "--split", "all",
                           "--json").stdout)  # fmt: skip
    assert ev["coverage_curve"][-1]["coverage"] == 1.0


def test_too_few_labelled_tools_is_one_line(tcplab: Runner, tmp_path: Path) -> None:
    out = tmp_path / "c.parquet"
    res = tcplab("corpus", "scan", "--path-dirs", str(_bin_dir(tmp_path, 5)), "--out", str(out))
    assert res.returncode == 0, res.stderr
    res = tcplab("descriptors", "generate", "--corpus", str(out), "--out",
                 str(tmp_path / "r.tcpdb"), "--generator", "ordinal")  # fmt: skip
    assert res.returncode != 0
    assert "learned generator needs 50" in res.stderr and "Traceback" not in res.stderr
    res = tcplab("descriptors", "generate", "--corpus", str(out), "--generator", "bogus",
                 "--out", str(tmp_path / "r.tcpdb"))  # fmt: skip
    assert res.returncode != 0 and "choose one of" in res.stderr
