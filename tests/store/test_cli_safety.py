"""The store commands through the real console script: nothing is replaced, dropped, created
or exhausted behind the user's back, and every expected error is one line (exit 1, 2 for
usage) without a traceback."""

from __future__ import annotations

import json
import os
import pty
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from ..conftest import TCPLAB, Runner
from ._runs import make_run, real_run, resume
from .conftest import need_module


@pytest.fixture(autouse=True)
def _needs_sql() -> None:
    need_module("sqlalchemy")
    need_module("duckdb")


def one_line_error(proc: subprocess.CompletedProcess[str], code: int = 1) -> str:
    """The stderr of a command that failed as expected: exit ``code``, one line, no traceback."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    return proc.stderr


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


# -- 1. runs fetch / push never replace a copy silently ---------------------------------------


def test_runs_fetch_refuses_to_replace_a_completed_local_run_with_an_older_pushed_copy(
    tcplab: Runner, isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = real_run(tmp_path / "inputs", isolated_home / "runs", cancel_after=2)
    proc = tcplab("runs", "push", run_dir.name, "--to", str(tmp_path / "store"))
    assert proc.returncode == 0, proc.stderr
    url = proc.stdout.strip()
    resume(run_dir)  # completed locally: 6 shards, where the pushed copy has 2
    (run_dir / "notes.txt").write_text("the user's own file")
    before = _files(run_dir)

    err = one_line_error(tcplab("runs", "fetch", url))
    assert f"{run_dir} already exists (status completed, 6 shard(s), 24 trial(s))" in err
    assert "status cancelled, 2 shard(s)" in err and "--force" in err
    assert _files(run_dir) == before  # nothing replaced, nothing deleted

    proc = tcplab("runs", "fetch", url, "--force")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(run_dir)
    assert "aside to" in proc.stderr
    asides = [p for p in run_dir.parent.iterdir() if p.name.startswith(f"{run_dir.name}.replaced-")]
    assert len(asides) == 1 and _files(asides[0]) == before  # the complete run, and notes.txt
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"

    proc = tcplab("runs", "fetch", url)  # the same pushed copy again: nothing to do
    assert proc.returncode == 0, proc.stderr
    assert len(list(run_dir.parent.glob(f"{run_dir.name}.replaced-*"))) == 1


def test_runs_push_refuses_to_overwrite_a_more_complete_pushed_copy(
    tcplab: Runner, isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = real_run(tmp_path / "inputs", isolated_home / "runs", cancel_after=1)
    old_copy = tmp_path / "old" / run_dir.name
    shutil.copytree(run_dir, old_copy, ignore=shutil.ignore_patterns(".lock", "heartbeat"))
    resume(run_dir)
    store = tmp_path / "store"
    assert tcplab("runs", "push", run_dir.name, "--to", str(store)).returncode == 0
    pushed = store / "runs" / run_dir.name
    before = _files(pushed)

    err = one_line_error(tcplab("runs", "push", str(old_copy), "--to", str(store)))
    assert "would not supersede (5 shard(s) this run lacks" in err and "--force" in err
    assert _files(pushed) == before

    proc = tcplab("runs", "push", str(old_copy), "--to", str(store), "--force")
    assert proc.returncode == 0, proc.stderr
    (aside,) = store.joinpath("runs").glob(f"{run_dir.name}.replaced-*")
    assert _files(aside) == before

    err = one_line_error(tcplab("runs", "push", run_dir.name, "--to", str(isolated_home)), 2)
    assert "is the run directory itself" in err


# -- 2. destructive migrations ask first ---------------------------------------------------


def test_db_downgrade_without_a_terminal_refuses_unless_yes(tcplab: Runner, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert tcplab("db", "upgrade", "--db", url).returncode == 0
    err = one_line_error(tcplab("db", "downgrade", "base", "--db", url, input="y\n"), 2)
    assert "drops tables and every row in them; pass --yes" in err
    assert "up to date" in tcplab("db", "current", "--db", url).stdout  # nothing dropped
    proc = tcplab("db", "downgrade", "base", "--db", url, "--yes")
    assert proc.returncode == 0 and "at revision base" in proc.stdout, proc.stderr


def _on_a_terminal(args: list[str], answer: bytes) -> tuple[int, str]:
    """Run tcplab with a pseudo-terminal as stdin/stdout, type ``answer``; (exit code, output)."""
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(TCPLAB), *args], stdin=follower, stdout=follower, stderr=follower
        )
        os.close(follower)
        os.write(leader, answer)
        out = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(timeout=300), out.decode(errors="replace")
    finally:
        os.close(leader)


def test_db_downgrade_on_a_terminal_asks_and_no_keeps_everything(
    tcplab: Runner, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert tcplab("db", "upgrade", "--db", url).returncode == 0
    code, out = _on_a_terminal(["db", "downgrade", "base", "--db", url], b"n\n")
    assert code == 1 and "drops tables and every row in them. Continue?" in out
    assert "aborted; nothing was changed" in out
    assert "up to date" in tcplab("db", "current", "--db", url).stdout
    code, out = _on_a_terminal(["db", "downgrade", "base", "--db", url], b"y\n")
    assert code == 0 and "at revision base" in out, out


# -- 3. tcplab sql: timeout, memory limit, private temp directory ---------------------------


def test_sql_statement_is_interrupted_after_the_timeout(
    tcplab: Runner, isolated_home: Path
) -> None:
    make_run(isolated_home, "run-sql", shards=1, per_shard=10)
    endless = "SELECT count(*) FROM range(1000000000000000) t(i) WHERE i % 7 = 3"
    err = one_line_error(tcplab("sql", endless, "--run", "run-sql", "--timeout", "0.2"))
    assert "interrupted after --timeout 0.2 s" in err


def test_sql_memory_limit_stops_a_statement_that_needs_more(
    tcplab: Runner, isolated_home: Path
) -> None:
    make_run(isolated_home, "run-sql", shards=1, per_shard=10)
    greedy = "SELECT list(i) FROM range(200000000) t(i)"
    err = one_line_error(tcplab("sql", greedy, "--run", "run-sql", "--memory-limit", "20MB"))
    assert "needs more than --memory-limit 20MB" in err
    for opt, value in (("--memory-limit", "lots"), ("--timeout", "-1"), ("--timeout", "nan")):
        err = one_line_error(tcplab("sql", "SELECT 1", "--run", "run-sql", opt, value), 2)
        assert opt in err


def test_sql_cannot_read_duckdbs_default_temp_directory(
    isolated_home: Path, tmp_path: Path
) -> None:
    run_dir = make_run(isolated_home, "run-sql", shards=1, per_shard=10)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.csv").write_text("secret,42\n")
    proc = subprocess.run(
        [str(TCPLAB), "sql", "SELECT * FROM read_csv('.tmp/secret.csv')", "--run", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert "Cannot access file" in one_line_error(proc, 2)
    assert "secret" not in proc.stdout


def test_sql_on_a_run_whose_only_shard_is_corrupt_is_one_line(
    tcplab: Runner, isolated_home: Path
) -> None:
    run_dir = make_run(isolated_home, "run-bad", shards=1, per_shard=10)
    (run_dir / "trials" / "shard-000000.parquet").write_bytes(b"PAR1 not really parquet")
    err = one_line_error(tcplab("sql", "SELECT count(*) FROM trials", "--run", "run-bad"))
    assert "cannot read the trial files" in err


def test_sql_prints_data_with_markup_verbatim(tcplab: Runner, isolated_home: Path) -> None:
    make_run(isolated_home, "run-sql", shards=1, per_shard=10)
    proc = tcplab("sql", "SELECT '[/x] [bold]' AS \"[red]\"", "--run", "run-sql")
    assert proc.returncode == 0, proc.stderr
    assert "[/x] [bold]" in proc.stdout and "[red]" in proc.stdout


# -- 4. read-only commands create nothing; bad values are one line --------------------------


def test_read_only_commands_on_a_missing_database_create_nothing(
    tcplab: Runner, isolated_home: Path, tmp_path: Path
) -> None:
    typo = tmp_path / "some" / "typo" / "db.sqlite"
    for args in (("db", "current"), ("query",), ("db", "downgrade", "base", "--yes")):
        err = one_line_error(tcplab(*args, "--db", f"sqlite:///{typo}"))
        assert f"database {typo} does not exist (nothing was created)" in err
        err = one_line_error(tcplab(*args))  # the default database, in a fresh TCPLAB_HOME
        assert "does not exist (nothing was created)" in err
    assert not (tmp_path / "some").exists()
    assert list(isolated_home.iterdir()) == []


def test_read_only_commands_on_an_empty_database_leave_it_empty(
    tcplab: Runner, tmp_path: Path
) -> None:
    path = tmp_path / "empty.sqlite"
    sqlite3.connect(path).close()
    err = one_line_error(tcplab("query", "--db", f"sqlite:///{path}"))
    assert "holds no tcplab tables" in err
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT name FROM sqlite_master").fetchall() == []


def test_unknown_revisions_are_one_line_errors(tcplab: Runner, tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite"
    url = f"sqlite:///{path}"
    err = one_line_error(tcplab("db", "upgrade", "--db", url, "--revision", "nonsense"), 2)
    assert "'nonsense'" in err and "revisions: base, 0001, 0002, head" in err
    err = one_line_error(tcplab("db", "downgrade", "nonsense", "--db", url, "--yes"), 2)
    assert "'nonsense'" in err
    assert not path.exists()  # checked before the database is opened or created
    assert tcplab("db", "upgrade", "--db", url).returncode == 0
    err = one_line_error(tcplab("db", "downgrade", "+1", "--db", url, "--yes"), 2)
    assert "cannot downgrade to revision '+1'" in err
    with sqlite3.connect(path) as con:  # a database written by a newer tcplab
        con.execute("UPDATE alembic_version SET version_num = 'ffff9999'")
    make_dir = tmp_path / "home-run"
    make_run(make_dir, "run-x", shards=1, per_shard=5)
    for args in (
        ("db", "current"),
        ("db", "upgrade"),
        ("db", "downgrade", "base", "--yes"),
        ("query",),
        ("runs", "sync", str(make_dir / "runs" / "run-x")),
    ):
        err = one_line_error(tcplab(*args, "--db", url))
        assert "schema revision 'ffff9999', which this tcplab does not know" in err


@pytest.mark.parametrize("limit", ["99999999999999999999", "0", "-5", "ten"])
def test_query_limit_out_of_range_is_a_one_line_usage_error(
    tcplab: Runner, tmp_path: Path, limit: str
) -> None:
    url = f"sqlite:///{tmp_path / 'x.sqlite'}"
    assert tcplab("db", "upgrade", "--db", url).returncode == 0
    assert "--limit must be" in one_line_error(tcplab("query", "--limit", limit, "--db", url), 2)
    proc = tcplab("query", "--limit", "9223372036854775807", "--db", url)
    assert proc.returncode == 0 and "0 row(s)" in proc.stdout, proc.stderr


def test_bad_s3_endpoint_setting_is_one_line(
    tcplab: Runner, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_module("boto3")
    make_run(isolated_home, "run-x", shards=1, per_shard=5)
    monkeypatch.setenv("TCPLAB_S3_ENDPOINT_URL", "http://[::1")
    err = one_line_error(tcplab("runs", "push", "run-x", "--to", "s3://bucket/prefix"))
    assert "TCPLAB_S3_ENDPOINT_URL='http://[::1' is not an http(s) URL" in err
    err = one_line_error(tcplab("runs", "fetch", "s3://bucket/prefix/runs/run-x"))
    assert "TCPLAB_S3_ENDPOINT_URL" in err


# -- sweep: missing files, directories for files, unreadable files, bad values ---------------


def test_missing_and_wrong_kinds_of_paths_are_one_line(
    tcplab: Runner, isolated_home: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "absent"
    a_dir = tmp_path / "a-dir"
    a_dir.mkdir()
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    make_run(isolated_home, "run-x", shards=1, per_shard=5)
    for args, code in (
        (("runs", "sync", str(missing)), 2),
        (("runs", "sync", str(a_dir)), 2),
        (("runs", "push", str(missing)), 2),
        (("runs", "push", "run-x", "--to", str(a_file)), 1),
        (("runs", "fetch", str(missing)), 1),
        (("runs", "fetch", str(a_dir)), 1),
        (("sql", "SELECT 1", "--run", str(missing)), 2),
        (("sql", "SELECT 1", "--run", str(a_file)), 2),
        (("db", "current", "--db", f"sqlite:///{a_dir}"), 1),
        (("db", "upgrade", "--db", f"sqlite:///{a_dir}"), 1),
        (("query", "--db", f"sqlite:///{a_file}"), 1),
        (("query", "--db", "mysql://u@h/db"), 2),
        (("query", "--db", "postgresql://u@h:abc/db"), 2),
        (("query", "--db", "sqlite:///~no-such-user-tcplab/x.sqlite"), 2),
        (("query", "--since", "yesterday-ish", "--db", f"sqlite:///{a_file}"), 1),
    ):
        one_line_error(tcplab(*args), code)


def _as_unprivileged(*args: str) -> subprocess.CompletedProcess[str]:
    """Run tcplab as an unmapped user in a new user namespace (root would read anything)."""
    prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
    if prefix and shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is needed to drop root's read permission")
    return subprocess.run(
        [*prefix, str(TCPLAB), *args], capture_output=True, text=True, timeout=300
    )


def test_unreadable_shard_is_one_line_for_push_and_sql() -> None:
    base = Path(tempfile.mkdtemp(prefix="tcplab-store-"))
    try:
        base.chmod(0o755)
        run_dir = make_run(base, "run-locked", shards=2, per_shard=5)
        for p in [run_dir, *run_dir.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        (run_dir / "trials" / "shard-000001.parquet").chmod(0)
        store = base / "store"
        store.mkdir(mode=0o777)
        store.chmod(0o777)
        err = one_line_error(_as_unprivileged("runs", "push", str(run_dir), "--to", str(store)))
        assert "shard-000001.parquet" in err and "Permission denied" in err
        sql = "SELECT count(*) FROM trials"
        err = one_line_error(_as_unprivileged("sql", sql, "--run", str(run_dir)))
        assert "shard-000001.parquet" in err and "Permission denied" in err
    finally:
        shutil.rmtree(base)


def test_sql_without_runs_and_an_unreadable_database_are_one_line(
    tcplab: Runner, tmp_path: Path
) -> None:
    assert "no runs under" in one_line_error(tcplab("sql", "SELECT 1"), 2)
    base = Path(tempfile.mkdtemp(prefix="tcplab-store-"))
    try:
        base.chmod(0o755)
        url = f"sqlite:///{base / 'locked.sqlite'}"
        assert tcplab("db", "upgrade", "--db", url).returncode == 0
        (base / "locked.sqlite").chmod(0)
        err = one_line_error(_as_unprivileged("query", "--db", url))
        assert "unable to open database file" in err
    finally:
        shutil.rmtree(base)
