"""The trained-model cache and ``descriptors cv`` on real man pages, MiniLM and scikit-learn."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tcplab.corpus import read_corpus, scan_tools, write_corpus
from tcplab.generator import GeneratorContext, generate_registry, get_generator
from tcplab.labels import read_labels
from tcplab.resources import shipped_labels

from ..conftest import Runner

pytestmark = pytest.mark.slow

SEARCH = "/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """64 labelled tools of tcplab-v1.csv found on this machine (symlinked), scanned."""
    tmp = tmp_path_factory.mktemp("model-cache")
    d = tmp / "bin"
    d.mkdir()
    added = 0
    for label in read_labels(shipped_labels("tcplab-v1.csv")):
        found = shutil.which(label.command, path=SEARCH)
        if found and added < 64:
            (d / label.command).symlink_to(found)
            added += 1
    return write_corpus(scan_tools([d]).rows, tmp / "corpus.parquet")


def _generate(name: str, corpus: Path, out: Path, cache: Path, **kw: object) -> str:
    gen = get_generator(name, GeneratorContext(cache_dir=cache, **kw))  # type: ignore[arg-type]
    res = generate_registry(read_corpus(corpus), out, generator=gen)
    return str((res.info or {}).get("model_cache"))


def _files(out: Path) -> tuple[bytes, bytes]:
    return out.read_bytes(), out.with_suffix(".explain.jsonl").read_bytes()


@pytest.mark.parametrize("name", ["ordinal", "knn"])
def test_second_generation_loads_the_model_and_writes_the_same_registry(
    name: str, corpus: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = _generate(name, corpus, tmp_path / "a.tcpdb", cache)
    assert first.startswith("trained, stored")
    entries = sorted(p.name for p in cache.glob("model-*"))
    assert len(entries) == 2 and entries[0].endswith(".json") and entries[1].endswith(".npz")
    record = json.loads(next(cache.glob("model-*.json")).read_text())
    assert record["schema_version"] == 1 and record["info"]["generator"] == name
    second = _generate(name, corpus, tmp_path / "b.tcpdb", cache)
    assert second.startswith("loaded from")
    assert _files(tmp_path / "a.tcpdb") == _files(tmp_path / "b.tcpdb")  # byte-identical
    forced = _generate(name, corpus, tmp_path / "c.tcpdb", cache, model_cache=False)
    assert forced.startswith("trained")
    assert _files(tmp_path / "a.tcpdb") == _files(tmp_path / "c.tcpdb")


def test_a_corrupt_or_foreign_cache_entry_is_retrained(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _generate("ordinal", corpus, tmp_path / "a.tcpdb", cache)
    meta, data = next(cache.glob("model-*.json")), next(cache.glob("model-*.npz"))
    good_meta, good_data = meta.read_bytes(), data.read_bytes()
    corruptions = {
        data: [b"\x00garbage" * 100, good_data[: len(good_data) // 2], b""],
        meta: [b"{not json", b"[]", json.dumps({"schema_version": 99}).encode(), b"\xff\xfe"],
    }
    for path, payloads in corruptions.items():
        for payload in payloads:
            path.write_bytes(payload)
            status = _generate("ordinal", corpus, tmp_path / "b.tcpdb", cache)
            assert status.startswith("trained, stored"), (path.name, payload[:20])
            assert _files(tmp_path / "a.tcpdb") == _files(tmp_path / "b.tcpdb")
            assert _generate("ordinal", corpus, tmp_path / "b.tcpdb", cache).startswith("loaded")
    rec = json.loads(good_meta)  # an entry whose arrays belong to another model
    rec["info"]["model_sha256"] = "0" * 64
    meta.write_text(json.dumps(rec))
    assert _generate("ordinal", corpus, tmp_path / "b.tcpdb", cache).startswith("trained")
    data.unlink()
    assert _generate("ordinal", corpus, tmp_path / "b.tcpdb", cache).startswith("trained")


def test_another_threshold_or_other_labels_is_another_entry(corpus: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    _generate("ordinal", corpus, tmp_path / "a.tcpdb", cache)
    assert _generate("ordinal", corpus, tmp_path / "b.tcpdb", cache, threshold=0.7).startswith(
        "trained"
    )
    labels = tmp_path / "labels.csv"
    text = shipped_labels("tcplab-v1.csv").read_text()
    labels.write_text(text + "\n")  # same labels, other bytes: another sha256
    assert _generate("ordinal", corpus, tmp_path / "c.tcpdb", cache, labels=labels).startswith(
        "trained"
    )
    assert len(list(cache.glob("model-*.json"))) == 3


def test_cli_generate_says_where_the_model_came_from(
    corpus: Path, tcplab: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))
    args = ("descriptors", "generate", "--corpus", str(corpus), "--generator", "ensemble")
    res = tcplab(*args, "--out", str(tmp_path / "a.tcpdb"))
    assert res.returncode == 0, res.stderr
    assert "model: trained, stored in" in res.stdout and "grouped 5-fold CV" in res.stdout
    res = tcplab(*args, "--out", str(tmp_path / "b.tcpdb"))
    assert res.returncode == 0, res.stderr
    assert "model: loaded from" in res.stdout and "grouped 5-fold CV" in res.stdout
    assert _files(tmp_path / "a.tcpdb") == _files(tmp_path / "b.tcpdb")
    res = tcplab(*args, "--out", str(tmp_path / "c.tcpdb"), "--no-cache")
    assert res.returncode == 0 and "model: trained, stored in" in res.stdout


def test_cli_nested_cv(
    corpus: Path, tcplab: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCPLAB_HOME", str(tmp_path / "home"))
    res = tcplab("descriptors", "cv", "--corpus", str(corpus), "--generator", "knn", "--nested")
    assert res.returncode == 0, res.stderr
    assert "optimistic" in res.stdout and "nested (C and threshold/guard" in res.stdout
    assert res.stdout.count("outer fold") == 5
    res = tcplab("descriptors", "cv", "--corpus", str(corpus), "--nested", "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["generator"] == "ordinal" and len(out["nested"]["folds"]) == 5
    assert (
        sum(f["n_test"] for f in out["nested"]["folds"]) == out["optimistic"]["n_training_tools"]
    )  # every training tool is tested once, in one outer fold
    assert all(f["params"]["c"] in (0.01, 0.03, 0.1, 0.3, 1.0) for f in out["nested"]["folds"])
    assert 0.0 <= out["nested"]["figures"]["coverage"] <= 1.0
    res = tcplab("descriptors", "cv", "--corpus", str(corpus), "--generator", "ensemble")
    assert res.returncode != 0 and "learned generator (ordinal or knn)" in res.stderr
