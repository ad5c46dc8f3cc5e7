"""Service fixtures: a fresh PostgreSQL schema, real `tcplab serve` / `tcplab worker` processes
on free loopback ports, tokens, and bounded waits (a wait that runs out fails, never hangs).

PostgreSQL is the machine's server (``STORE_TEST_PG``); each stack gets its own schema through
the URL's ``options=-csearch_path=...`` and drops it at the end. Outside CI a missing server or
package skips; under CI it fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..conftest import TCPLAB
from ..store.conftest import PG_URL, need, need_module

LEASE_S = 3.0


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.25)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fake_spec(
    name: str = "svc", n_tools: int = 10, shard_size: int = 2, **extra: Any
) -> dict[str, Any]:
    """A spec of two ``fake`` arms on the inline executor: small shards, seconds to run."""
    spec: dict[str, Any] = {
        "spec_version": 1,
        "name": name,
        "tools": {"kind": "list", "names": [f"tool{i:03d}" for i in range(n_tools)]},
        "arms": [
            {"name": "a", "analyzer": "fake"},
            {"name": "b", "analyzer": "fake", "params": {"level": "HIGH_RISK"}},
        ],
        "executor": {"kind": "inline"},
        "shard_size": shard_size,
    }
    spec.update(extra)
    return spec


class Stack:
    """One service deployment: a schema, a TCPLAB_HOME, and the processes started on them."""

    def __init__(self, url: str, home: Path) -> None:
        from tcplab.service._db import ServiceDB

        self.url, self.home = url, home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("TCPLAB_")}
        self.env |= {
            "TCPLAB_HOME": str(home),
            "TCPLAB_DATABASE_URL": url,
            "TCPLAB_SERVICE_LEASE_SECONDS": str(LEASE_S),
            "TCPLAB_SERVICE_POLL_SECONDS": "0.5",
            "TCPLAB_SERVICE_RETRY_BACKOFF_SECONDS": "0.5",
            "TCPLAB_SERVICE_MAX_ATTEMPTS": "10",
        }
        self.procs: list[subprocess.Popen[bytes]] = []
        self.db = ServiceDB(url, pool_size=2)
        self.db.migrate()
        self.base = ""
        self.server: subprocess.Popen[bytes] | None = None

    def _spawn(self, args: list[str], log: str, **env: str) -> subprocess.Popen[bytes]:
        with open(self.home / log, "ab") as out:
            proc = subprocess.Popen(
                [str(TCPLAB), *args], stdout=out, stderr=subprocess.STDOUT, env=self.env | env
            )
        self.procs.append(proc)
        return proc

    def serve(self, **env: str) -> str:
        """Start `tcplab serve` on a free port; wait until /health answers; the base URL."""
        import httpx

        port = free_port()
        self.server = self._spawn(["serve", "--port", str(port)], "serve.log", **env)
        self.base = f"http://127.0.0.1:{port}"
        server = self.server

        def up() -> bool:
            assert server.poll() is None, self.log("serve.log")
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{self.base}/api/v1/health", timeout=2).status_code == 200
            return False

        wait_for("the API to answer", up, timeout=60)
        return self.base

    def stop(self, proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
        proc.send_signal(sig)
        return proc.wait(timeout=60)

    def worker(
        self, concurrency: int = 1, n: int = 0, *extra: str, **env: str
    ) -> subprocess.Popen[bytes]:
        """Start `tcplab worker` (its output goes to worker-N.log)."""
        args = ["worker", "--concurrency", str(concurrency), *extra]
        return self._spawn(args, f"worker-{n}.log", **env)

    def log(self, name: str) -> str:
        path = self.home / name
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def token(self, user: str, role: str = "submitter") -> str:
        from tcplab.service._tokens import create_token

        return create_token(self.db, user, role).token

    def client(self, token: str) -> Any:
        import httpx

        return httpx.Client(
            base_url=f"{self.base}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def job(self, job_id: str) -> Any:
        from tcplab.service._jobs import get_job

        return get_job(self.db, job_id)

    def wait_state(self, job_id: str, states: tuple[str, ...], timeout: float = 90) -> Any:
        return wait_for(
            f"job {job_id} to reach {states}",
            lambda: (j := self.job(job_id)) is not None and j.state in states and j,
            timeout,
        )

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
        self.db.close()


@contextlib.contextmanager
def pg_schema() -> Iterator[str]:
    """A URL whose search_path is a fresh schema (dropped afterwards)."""
    for module in ("sqlalchemy", "psycopg", "procrastinate", "fastapi", "uvicorn", "httpx"):
        need_module(module)
    import psycopg

    try:
        admin = psycopg.connect(PG_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        need(False, f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    schema = f"s_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A fresh deployment for one test (no process started yet)."""
    with pg_schema() as url:
        s = Stack(url, tmp_path_factory.mktemp("svc-home"))
        try:
            yield s
        finally:
            s.close()


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One deployment with a running API (no worker) shared by a module's tests."""
    with pg_schema() as url:
        s = Stack(url, tmp_path_factory.mktemp("svc-api"))
        try:
            s.serve()
            yield s
        finally:
            s.close()
