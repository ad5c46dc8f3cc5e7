"""Artifact stores: local directory and a real SeaweedFS S3 server; manifest verification."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tcplab.errors import UsageError
from tcplab.experiment.trials import read_trials
from tcplab.store import (
    ArtifactIntegrityError,
    StorePermissionError,
    StoreUnavailableError,
    fetch_run,
    open_artifacts,
    push_run,
    run_sql,
)

from ._runs import make_run


def _same_run(a: Path, b: Path) -> None:
    assert read_trials(a).equals(read_trials(b))
    assert json.loads((a / "run.json").read_text()) == json.loads((b / "run.json").read_text())
    assert (a / "plan.parquet").read_bytes() == (b / "plan.parquet").read_bytes()
    assert (b / "report" / "summary.md").read_text() == "# summary\n"


def _check_layout(keys: list[str]) -> None:
    assert "runs/run-art/manifest.json" in keys and "runs/run-art/run.json" in keys
    assert "runs/run-art/report/summary.md" in keys
    parts = {k for k in keys if "/trials/" in k}
    assert parts == {
        f"runs/run-art/trials/arm={arm}/part-{shard:06d}.parquet"
        for arm in ("tcp", "rules", "llm")
        for shard in (0, 1)
    }


def test_local_push_fetch_round_trip(isolated_home: Path, tmp_path: Path) -> None:
    run_dir = make_run(isolated_home, "run-art")
    url = push_run("run-art")  # default: TCPLAB_HOME/artifacts
    assert url == str(isolated_home / "artifacts" / "runs" / "run-art")
    _check_layout(open_artifacts().keys())
    manifest = json.loads((Path(url) / "manifest.json").read_text())
    for entry in manifest["objects"]:
        data = (Path(url) / entry["key"]).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (entry["size"], entry["sha256"])
    fetched = fetch_run(url, tmp_path / "back")
    assert fetched == tmp_path / "back" / "run-art"
    _same_run(run_dir, fetched)
    assert fetch_run(url, tmp_path / "back") == fetched  # fetching again replaces it
    # the pushed layout is queryable as it is (Hive partitions by arm)
    _cols, rows = run_sql("SELECT arm, count(*) FROM trials GROUP BY arm ORDER BY arm", Path(url))
    assert rows == [("llm", 80), ("rules", 80), ("tcp", 80)]


def test_tampered_object_is_refused(isolated_home: Path, tmp_path: Path) -> None:
    make_run(isolated_home, "run-art")
    url = Path(push_run("run-art", str(tmp_path / "store")))
    victim = url / "trials" / "arm=tcp" / "part-000001.parquet"
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    with pytest.raises(ArtifactIntegrityError, match=r"arm=tcp/part-000001\.parquet"):
        fetch_run(str(url), tmp_path / "back")
    assert not (tmp_path / "back" / "run-art").exists()  # nothing half-written


def test_manifest_with_unsafe_key_is_refused(isolated_home: Path, tmp_path: Path) -> None:
    make_run(isolated_home, "run-art")
    url = Path(push_run("run-art", str(tmp_path / "store")))
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
    run_dir = make_run(isolated_home, "run-art")
    url = push_run(run_dir, s3_env)
    assert url == f"{s3_env}/runs/run-art"
    keys = open_artifacts(s3_env).keys()
    _check_layout(keys)
    fetched = fetch_run(url, tmp_path / "back")
    _same_run(run_dir, fetched)
    # tamper with one object on the server: fetch refuses it
    key = url.removeprefix(f"s3://{seaweed['bucket']}/") + "/run.json"
    _boto(seaweed).put_object(Bucket=seaweed["bucket"], Key=key, Body=b'{"run_id": "x"}')
    with pytest.raises(ArtifactIntegrityError, match=r"run\.json"):
        fetch_run(url, tmp_path / "again")


def test_s3_wrong_credentials_are_refused(
    s3_env: str, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_run(isolated_home, "run-art")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
    with pytest.raises(StorePermissionError, match="SignatureDoesNotMatch"):
        push_run("run-art", s3_env)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "nobody")
    with pytest.raises(StorePermissionError, match="InvalidAccessKeyId"):
        open_artifacts(s3_env).keys()


def test_s3_unreachable_endpoint(s3_env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPLAB_S3_ENDPOINT_URL", "http://127.0.0.1:1")
    with pytest.raises(StoreUnavailableError, match="cannot reach the S3 server"):
        open_artifacts(s3_env).keys()
