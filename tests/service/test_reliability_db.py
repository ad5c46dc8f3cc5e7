"""A database restart and an API restart while a job runs, on a PostgreSQL of the test's own
(``initdb`` + ``pg_ctl`` from /usr/lib/postgresql/15/bin, a temporary data directory, a free
port): the shared server of the other tests is never touched. The worker rides out the outage
(its writes fail, then reconnect), and the job completes with every planned trial exactly once,
in the run directory and in the store."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from tcplab.experiment import RunDir

from ..store.conftest import need, need_module
from .conftest import Stack, fake_spec, free_port, wait_for
from .test_e2e import exactly_once

PG_BIN = Path(os.environ.get("TCPLAB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
N_TOOLS = 100  # two arms, one trial per shard: 200 shards


class Postgres:
    """A throw-away PostgreSQL cluster (trust auth on loopback, superuser ``tcplab``)."""

    def __init__(self, root: Path) -> None:
        self.data, self.port = root / "pgdata", free_port()
        self.sock = root / "sock"
        self.log = root / "postgres.log"
        self.url = f"postgresql://tcplab@127.0.0.1:{self.port}/postgres"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        for path in (root, self.sock):
            path.mkdir(exist_ok=True)
            path.chmod(0o700)
            if self._as:
                shutil.chown(path, "postgres", "postgres")

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise subprocess.CalledProcessError(done.returncode, args, done.stdout, done.stderr)

    def init(self) -> None:
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "tcplab", "-A", "trust")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts,
                  "-w", "start")  # fmt: skip

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")


@contextlib.contextmanager
def dedicated_postgres() -> Iterator[Postgres]:
    for module in ("sqlalchemy", "psycopg", "procrastinate", "fastapi", "uvicorn", "httpx"):
        need_module(module)
    need((PG_BIN / "pg_ctl").is_file(), f"PostgreSQL server binaries not found in {PG_BIN}")
    # a directory of its own under /tmp: the server's user must reach it (pytest's tmp_path
    # is private to the user running the tests)
    with tempfile.TemporaryDirectory(prefix="tcplab-pg-") as where:
        pg = Postgres(Path(where))
        pg.init()
        pg.start()
        try:
            yield pg
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                pg.stop()


def _shards(stack: Stack, job_id: str) -> int:
    job = stack.job(job_id)
    return job.progress.shards_done if job and job.progress else 0


def test_database_and_api_restart_mid_job_lose_nothing(tmp_path: Path) -> None:
    with dedicated_postgres() as pg:
        (tmp_path / "home").mkdir()
        stack = Stack(pg.url, tmp_path / "home")
        try:
            stack.serve()
            token = stack.token("alice")
            with stack.client(token) as http:
                spec = fake_spec(name="outage", n_tools=N_TOOLS, shard_size=1)
                job_id = http.post("/jobs", json={"spec": spec}).json()["id"]
            stack.worker()
            wait_for("5 shards", lambda: _shards(stack, job_id) >= 5, 120)
            before = _shards(stack, job_id)
            stack.db.close()
            pg.stop()  # every connection of the API and the worker is cut
            runs = Path(stack.home) / "runs"
            wait_for("a shard written during the outage", lambda: _disk_shards(runs) > before)
            pg.start()
            assert stack.server is not None
            stack.stop(stack.server)  # then the API goes away mid-job...
            stack.serve()  # ...and a new one answers for the same job
            with stack.client(token) as http:
                state = http.get(f"/jobs/{job_id}").json()["state"]
            assert state in ("running", "succeeded"), state
            done = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"), 180)
            assert done.state == "succeeded", (done.reason, stack.log("worker-0.log"))
            exactly_once(done.run_dir, 2 * N_TOOLS)
            assert RunDir(done.run_dir).read_record().status == "completed"
            with stack.db.begin() as conn:  # the store got every trial once, too
                n = conn.execute(
                    sa.text("SELECT count(*), count(DISTINCT seq) FROM trials WHERE run_id = :r"),
                    {"r": done.run_id},
                ).one()
            assert tuple(n) == (2 * N_TOOLS, 2 * N_TOOLS)
            with stack.client(token) as http:
                lines = http.get(f"/jobs/{job_id}/logs", params={"limit": 5000}).json()["lines"]
            assert any("shards" in line["message"] for line in lines)
        finally:
            stack.close()


def _disk_shards(runs: Path) -> int:
    return sum(1 for _ in runs.glob("*/trials/shard-*.parquet"))
