"""``tcplab db|runs|query|sql`` through a real process (one-line errors, exit codes)."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest

from ..conftest import TCPLAB
from ._runs import make_run
from .conftest import need_module


def tcplab(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console script."""
    return subprocess.run([str(TCPLAB), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(autouse=True)
def _needs_sql() -> None:
    need_module("sqlalchemy")
    need_module("duckdb")


def test_sync_then_query_formats_and_injection(isolated_home: Path) -> None:
    make_run(isolated_home, "run-cli", shards=1, per_shard=60)
    proc = tcplab("runs", "sync", "run-cli")
    assert proc.returncode == 0, proc.stderr
    assert "synced run-cli: 1 shard(s), 60 trial(s), 12 result row(s)" in proc.stdout
    assert (isolated_home / "tcplab.sqlite").is_file()  # the default database

    proc = tcplab("query", "--tool", "rm", "--arm", "llm", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    assert [(r["run_id"], r["tool"], r["arm"], r["n"]) for r in rows] == [
        ("run-cli", "rm", "llm", 5)
    ]

    proc = tcplab("query", "--tool", "x' OR 1=1; DROP TABLE runs; --", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert list(csv.reader(io.StringIO(proc.stdout)))[1:] == []  # header only: it was data
    proc = tcplab("query", "--status", "completed", "--format", "csv")
    assert len(list(csv.reader(io.StringIO(proc.stdout)))) == 13  # runs table intact

    proc = tcplab("query", "--since", "2030-01-01")
    assert proc.returncode == 0 and "0 row(s)" in proc.stdout


def test_db_commands(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    proc = tcplab("db", "current", "--db", url)
    assert proc.returncode == 1 and "does not exist (nothing was created)" in proc.stderr
    assert not (tmp_path / "x.sqlite").exists()
    assert "at revision 0002" in tcplab("db", "upgrade", "--db", url).stdout
    assert "0002 (head 0002, up to date)" in tcplab("db", "current", "--db", url).stdout
    assert "at revision base" in tcplab("db", "downgrade", "base", "--db", url, "--yes").stdout
    proc = tcplab("db", "current", "--db", url)
    assert proc.returncode == 0 and "empty (head 0002" in proc.stdout


def test_unreachable_database_is_one_line(isolated_home: Path) -> None:
    need_module("psycopg")
    make_run(isolated_home, "run-cli", shards=1, per_shard=9)
    proc = tcplab("runs", "sync", "run-cli", "--db", "postgresql://u:pw@127.0.0.1:1/db")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: cannot connect to database postgresql://u:***@")
    assert "Traceback" not in proc.stderr and "pw@" not in proc.stderr


def test_sql_and_push_fetch(isolated_home: Path, tmp_path: Path) -> None:
    make_run(isolated_home, "run-cli", shards=2, per_shard=30)
    sql = "SELECT arm, count(*) AS n FROM trials GROUP BY arm ORDER BY arm"
    proc = tcplab("sql", sql, "--run", "run-cli", "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["arm,n", "llm,20", "rules,20", "tcp,20"]
    proc = tcplab("sql", "DROP VIEW trials")
    assert proc.returncode == 2 and "exactly one read-only SELECT" in proc.stderr

    proc = tcplab("runs", "push", "run-cli", "--to", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    pushed = proc.stdout.strip()
    proc = tcplab("runs", "fetch", pushed, "--to", str(tmp_path / "back"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "back" / "run-cli" / "trials" / "shard-000001.parquet").is_file()
