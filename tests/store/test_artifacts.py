"""Artifact stores: local directory and a real SeaweedFS S3 server; manifest verification."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tcplab.errors import ConfigError, UsageError
from tcplab.experiment.trials import read_trials
from tcplab.store import (
    ArtifactIntegrityError,
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
    fetch_run,
    open_artifacts,
    push_run,
    run_sql,
)
from tcplab.store._replace import manifest_shards

from ._runs import real_run, resume


def _same_run(a: Path, b: Path) -> None:
    assert read_trials(a).equals(read_trials(b))
    assert (a / "run.json").read_bytes() == (b / "run.json").read_bytes()
    assert (a / "plan.parquet").read_bytes() == (b / "plan.parquet").read_bytes()
    for shard in sorted((a / "trials").glob("shard-*.parquet")):  # byte for byte
        assert (b / "trials" / shard.name).read_bytes() == shard.read_bytes()
    assert (b / "report" / "summary.md").read_text() == "# summary\n"


def _run(isolated_home: Path, tmp_path: Path, **kw: Any) -> Path:
    """A real finished (or, with cancel_after, cancelled) run with a report file."""
    run_dir = real_run(tmp_path / "inputs", isolated_home / "runs", **kw)
    (run_dir / "report").mkdir()
    (run_dir / "report" / "summary.md").write_text("# summary\n")
    return run_dir


def _check_layout(keys: list[str], run_id: str) -> None:
    root = f"runs/{run_id}"
    assert f"{root}/manifest.json" in keys and f"{root}/run.json" in keys
    assert f"{root}/report/summary.md" in keys and f"{root}/plan.parquet" in keys
    assert {k for k in keys if "/shards/" in k} == {
        f"{root}/shards/shard-{shard:06d}.parquet" for shard in range(6)
    }
    assert {k for k in keys if "/trials/" in k} == {
        f"{root}/trials/arm=fake/part-{shard:06d}.parquet" for shard in range(6)
    }


def test_local_push_fetch_round_trip(isolated_home: Path, tmp_path: Path) -> None:
    run_dir = _run(isolated_home, tmp_path)
    run_id = run_dir.name
    url = push_run(run_id)  # default: TCPLAB_HOME/artifacts
    assert url == str(isolated_home / "artifacts" / "runs" / run_id)
    _check_layout(open_artifacts().keys(), run_id)
    manifest = json.loads((Path(url) / "manifest.json").read_text())
    assert manifest["layout"] == "tcplab-run/2"
    for entry in manifest["objects"]:
        data = (Path(url) / entry["key"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    fetched = fetch_run(url, tmp_path / "back")
    assert fetched == tmp_path / "back" / run_id
    _same_run(run_dir, fetched)
    # fetching again finds exactly the pushed copy there: nothing to do, nothing moved
    assert fetch_run(url, tmp_path / "back") == fetched
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == [run_id]
    # the pushed layout is queryable as it is (Hive partitions by arm)
    _cols, rows = run_sql("SELECT arm, count(*) FROM trials GROUP BY arm ORDER BY arm", Path(url))
    assert rows == [("fake", 24)]


def test_fetch_refuses_to_replace_a_different_local_copy_and_force_moves_it_aside(
    isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = _run(isolated_home, tmp_path, cancel_after=2)
    url = push_run(run_dir, str(tmp_path / "store"))  # the cancelled copy
    resume(run_dir)  # the local copy is now complete
    (run_dir / "notes.txt").write_text("mine")
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    with pytest.raises(StoreError, match=r"already exists \(status completed, 6 shard") as info:
        fetch_run(url, isolated_home / "runs")
    assert "status cancelled, 2 shard(s)" in str(info.value) and "--force" in str(info.value)
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()} == before

    moved: list[tuple[str, str]] = []
    fetched = fetch_run(
        url, isolated_home / "runs", force=True, on_replace=lambda *a: moved.append(a)
    )
    assert fetched == run_dir
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"
    assert not (run_dir / "notes.txt").exists()
    ((old, aside),) = moved
    assert old == str(run_dir) and Path(aside).name.startswith(f"{run_dir.name}.replaced-")
    # nothing was deleted: the complete copy and the user's file are all there
    assert {Path(aside) / p.relative_to(run_dir) for p in before} == {
        p for p in Path(aside).rglob("*") if p.is_file()
    }
    assert all((Path(aside) / p.relative_to(run_dir)).read_bytes() == b for p, b in before.items())


def test_fetch_refuses_a_directory_that_is_not_a_run(isolated_home: Path, tmp_path: Path) -> None:
    run_dir = _run(isolated_home, tmp_path)
    url = push_run(run_dir, str(tmp_path / "store"))
    (tmp_path / "back" / run_dir.name).mkdir(parents=True)
    (tmp_path / "back" / run_dir.name / "thesis.tex").write_text("years of work")
    with pytest.raises(StoreError, match=r"no run\.json"):
        fetch_run(url, tmp_path / "back")
    assert (tmp_path / "back" / run_dir.name / "thesis.tex").read_text() == "years of work"


def test_push_replaces_an_older_copy_of_the_same_run_but_refuses_a_more_complete_one(
    isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = _run(isolated_home, tmp_path, cancel_after=2)
    old_copy = tmp_path / "old" / run_dir.name
    shutil.copytree(run_dir, old_copy, ignore=shutil.ignore_patterns(".lock", "heartbeat"))
    store = str(tmp_path / "store")
    url = push_run(run_dir, store)
    resume(run_dir)
    # the complete run supersedes the pushed cancelled copy (e.g. a resume's auto-push)
    assert push_run(run_dir, store) == url
    manifest = (Path(url) / "manifest.json").read_bytes()
    keys = [o["key"] for o in json.loads(manifest)["objects"]]
    # run.json, plan, spec + 2 files per shard; the resource samples (metrics/) ride along
    assert len([k for k in keys if not k.startswith("metrics/")]) == 3 + 2 * 6
    assert "metrics/sources.json" in keys

    with pytest.raises(StoreError, match=r"would not supersede \(4 shard\(s\) this run lacks"):
        push_run(old_copy, store)
    assert (Path(url) / "manifest.json").read_bytes() == manifest  # untouched

    moved: list[tuple[str, str]] = []
    assert push_run(old_copy, store, force=True, on_replace=lambda *a: moved.append(a)) == url
    ((old, aside),) = moved
    assert old == url and Path(aside).name.startswith(f"{run_dir.name}.replaced-")
    assert (Path(aside) / "manifest.json").read_bytes() == manifest  # moved, not deleted
    assert (
        fetch_run(aside, tmp_path / "complete").joinpath("run.json").read_bytes()
        == (run_dir / "run.json").read_bytes()
    )


def test_push_refuses_foreign_files_and_the_run_directory_itself(
    isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = _run(isolated_home, tmp_path)
    target = tmp_path / "store" / "runs" / run_dir.name
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    with pytest.raises(StoreError, match="files that are not a pushed run"):
        push_run(run_dir, str(tmp_path / "store"))
    with pytest.raises(UsageError, match="is the run directory itself"):
        push_run(run_dir, str(isolated_home))
    assert not (run_dir / "manifest.json").exists()


def test_tampered_object_is_refused(isolated_home: Path, tmp_path: Path) -> None:
    run_dir = _run(isolated_home, tmp_path)
    url = Path(push_run(run_dir, str(tmp_path / "store")))
    victim = url / "shards" / "shard-000001.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"shards/shard-000001\.parquet"):
        fetch_run(str(url), tmp_path / "back")
    assert not (tmp_path / "back" / run_dir.name).exists()  # nothing half-written


def test_push_without_whole_shards_is_rebuilt_from_the_parts(
    isolated_home: Path, tmp_path: Path
) -> None:
    """A ``tcplab-run/1`` push (no shards/ objects) still fetches: shards rebuilt by arm."""
    run_dir = _run(isolated_home, tmp_path)
    url = Path(push_run(run_dir, str(tmp_path / "store")))
    manifest = json.loads((url / "manifest.json").read_text())
    manifest["objects"] = [o for o in manifest["objects"] if not o["key"].startswith("shards/")]
    manifest["layout"] = "tcplab-run/1"
    (url / "manifest.json").write_text(json.dumps(manifest))
    shutil.rmtree(url / "shards")
    fetched = fetch_run(str(url), tmp_path / "back")
    for shard in sorted((run_dir / "trials").glob("shard-*.parquet")):
        assert pq.read_table(fetched / "trials" / shard.name).equals(pq.read_table(shard))


def test_manifest_with_unsafe_key_is_refused(isolated_home: Path, tmp_path: Path) -> None:
    run_dir = _run(isolated_home, tmp_path)
    url = Path(push_run(run_dir, str(tmp_path / "store")))
    manifest = json.loads((url / "manifest.json").read_text())
    manifest["objects"].append({"key": "../../escape.txt", "sha256": "0" * 64, "size": 1})
    (url / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="unsafe artifact key"):
        fetch_run(str(url), tmp_path / "back")
    with pytest.raises(ArtifactIntegrityError, match="not a valid manifest"):
        (url / "manifest.json").write_text("{}")
        fetch_run(str(url), tmp_path / "back")


def _boto(seaweed: dict[str, str], secret: str | None = None) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=seaweed["endpoint"],
        aws_access_key_id=seaweed["key"],
        aws_secret_access_key=secret or seaweed["secret"],
        region_name="us-east-1",
    )


def test_s3_push_fetch_round_trip(
    s3_env: str, seaweed: dict[str, str], isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = _run(isolated_home, tmp_path)
    url = push_run(run_dir, s3_env)
    assert url == f"{s3_env}/runs/{run_dir.name}"
    keys = open_artifacts(s3_env).keys()
    _check_layout(keys, run_dir.name)
    fetched = fetch_run(url, tmp_path / "back")
    _same_run(run_dir, fetched)
    # tamper with one object on the server: fetch refuses it
    key = url.removeprefix(f"s3://{seaweed['bucket']}/") + "/run.json"
    _boto(seaweed).put_object(Bucket=seaweed["bucket"], Key=key, Body=b'{"run_id": "x"}')
    with pytest.raises(ArtifactIntegrityError, match=r"run\.json"):
        fetch_run(url, tmp_path / "again")


def test_s3_push_refuses_a_more_complete_copy_and_force_moves_it_aside(
    s3_env: str, isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = _run(isolated_home, tmp_path, cancel_after=1)
    old_copy = tmp_path / "old" / run_dir.name
    shutil.copytree(run_dir, old_copy, ignore=shutil.ignore_patterns(".lock", "heartbeat"))
    resume(run_dir)
    url = push_run(run_dir, s3_env)
    before = open_artifacts(url).keys()
    with pytest.raises(StoreError, match="would not supersede"):
        push_run(old_copy, s3_env)
    assert open_artifacts(url).keys() == before
    moved: list[tuple[str, str]] = []
    push_run(old_copy, s3_env, force=True, on_replace=lambda *a: moved.append(a))
    ((old, aside),) = moved
    assert old == url and aside.startswith(f"{url}.replaced-")
    assert open_artifacts(aside).keys() == before  # every object copied, none lost
    assert (
        fetch_run(aside, tmp_path / "complete").joinpath("run.json").read_bytes()
        == (run_dir / "run.json").read_bytes()
    )
    assert len(manifest_shards(json.loads(open_artifacts(url).get_bytes("manifest.json")))) == 1


def test_s3_wrong_credentials_are_refused(
    s3_env: str, isolated_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _run(isolated_home, tmp_path)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(StorePermissionError, match="SignatureDoesNotMatch"):
        push_run(run_dir, s3_env)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(StorePermissionError, match="InvalidAccessKeyId"):
        open_artifacts(s3_env).keys()


def test_s3_unreachable_endpoint(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPLAB_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    with pytest.raises(StoreUnavailableError, match="cannot reach the S3 server"):
        open_artifacts(s3_env).keys()


@pytest.mark.parametrize("endpoint", ["not a url", "http://[::1", "http://h:99999", "ftp://h"])
def test_s3_bad_endpoint_setting_is_a_config_error(
    s3_env: str, endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TCPLAB_S3_ENDPOINT_URL", endpoint)
    with pytest.raises(ConfigError, match="TCPLAB_S3_ENDPOINT_URL"):
        open_artifacts(s3_env)
