"""Queries: the SQL store (runs × results, bound parameters) and DuckDB over raw trials."""

from __future__ import annotations

import math
import re
import tempfile
import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.errors import StoreError, UsageError
from tcplab.store._config import require
from tcplab.store._sql import parse_ts

if TYPE_CHECKING:
    from types import ModuleType

    from tcplab.store._base import ResultStore

__all__ = [
    "DEFAULT_SQL_MEMORY",
    "DEFAULT_SQL_TIMEOUT_S",
    "QUERY_COLUMNS",
    "query_runs",
    "run_sql",
    "select_results",
]

#: ``tcplab sql`` defaults: interrupt a statement after 5 minutes; DuckDB may use 2 GB of
#: memory (its own default is 80% of the machine's).
DEFAULT_SQL_TIMEOUT_S = 300.0
DEFAULT_SQL_MEMORY = "2GB"
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]i?B|B)", re.IGNORECASE)

#: Columns of :func:`query_runs` rows, in order.
QUERY_COLUMNS = (
    "run_id",
    "name",
    "type",
    "status",
    "started_at",
    "tool",
    "arm",
    "n",
    "accuracy",
    "latency_p50_ns",
    "latency_p99_ns",
    "speed_ratio",
)


def select_results(
    models: ModuleType,
    *,
    type: str | None = None,
    since: datetime | str | None = None,
    tool: str | None = None,
    arm: str | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> Any:
    """``runs LEFT JOIN results`` filtered with bound parameters (never string-built SQL)."""
    import sqlalchemy as sa

    runs, res = models.runs_table, models.results_table
    cols = [runs.c.id.label("run_id"), runs.c.name, runs.c.type, runs.c.status]
    cols += [runs.c.started_at, res.c.tool, res.c.arm, res.c.n, res.c.accuracy]
    cols += [res.c.latency_p50_ns, res.c.latency_p99_ns, res.c.speed_ratio]
    stmt = sa.select(*cols).select_from(runs.outerjoin(res, res.c.run_id == runs.c.id))
    if type is not None:
        stmt = stmt.where(runs.c.type == type)
    if status is not None:
        stmt = stmt.where(runs.c.status == status)
    if since is not None:
        stmt = stmt.where(runs.c.started_at >= parse_ts(since))
    if tool is not None:
        stmt = stmt.where(res.c.tool == tool)
    if arm is not None:
        stmt = stmt.where(res.c.arm == arm)
    stmt = stmt.order_by(runs.c.started_at.desc(), runs.c.id, res.c.tool, res.c.arm)
    if limit is not None:
        stmt = stmt.limit(limit)
    return stmt


def query_runs(store: ResultStore, **filters: Any) -> list[dict[str, Any]]:
    """Runs joined with their per-tool per-arm results.

    Args:
        store: an open result store.
        **filters: ``type``, ``since`` (date/ISO string or datetime; started at or after),
            ``tool``, ``arm``, ``status``, ``limit``. Values are bound as parameters.

    Returns:
        Dicts with :data:`QUERY_COLUMNS` keys; ``started_at`` as an ISO string.
    """
    rows = store.query_results(**filters)
    for row in rows:
        ts = row.get("started_at")
        if isinstance(ts, datetime):
            row["started_at"] = (parse_ts(ts) or ts).isoformat()
    return rows


def _trial_files(run: Path) -> list[Path]:
    trials = run / "trials"
    if trials.is_dir():
        files = sorted(p for p in trials.glob("shard-*.parquet") if p.is_file())
        files = files or sorted(p for p in trials.glob("arm=*/part-*.parquet") if p.is_file())
        if files:
            return files
    raise UsageError(f"{run}: no trial Parquet files under trials/")


def _memory_limit(text: str) -> str:
    m = _MEMORY.fullmatch(text.strip())
    if m is None:
        raise UsageError(
            f"--memory-limit must be a size such as 512MB or 4GB (units B, KB, MB, GB, TB, "
            f"KiB, MiB, GiB, TiB), not {text!r}"
        )
    return f"{m.group(1)}{m.group(2)}"


def _sandbox(con: Any, files: list[str], temp_dir: str, memory_limit: str) -> None:
    """Limit memory, use a private temp directory, allow only ``files``, lock the config."""

    def literal(text: str) -> str:
        return "'" + text.replace("'", "''") + "'"

    con.execute(f"SET memory_limit = {literal(memory_limit)}")
    con.execute(f"SET max_temp_directory_size = {literal(memory_limit)}")
    # DuckDB may read and write its temp directory whatever the sandbox says; the default
    # is ./.tmp in the working directory, so give it a fresh private one.
    con.execute(f"SET temp_directory = {literal(temp_dir)}")
    con.execute(f"SET allowed_paths = [{', '.join(literal(f) for f in files)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def run_sql(
    sql: str,
    run_dir: Path,
    *,
    timeout: float | None = DEFAULT_SQL_TIMEOUT_S,
    memory_limit: str = DEFAULT_SQL_MEMORY,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only SELECT with DuckDB over a run's trials, exposed as view ``trials``.

    DuckDB runs in memory (no database file) with at most ``memory_limit`` of memory and a
    private temporary directory (removed afterwards); once the view is defined, external
    access (files, network, extensions) is switched off and the configuration locked, so the
    statement can read nothing but ``trials``. DuckDB has no statement timeout: a timer
    thread interrupts the connection after ``timeout`` seconds (None or 0: no limit).

    Returns:
        Column names and rows.

    Raises:
        UsageError: not exactly one SELECT statement, DuckDB rejected it, or a bad
            ``timeout`` / ``memory_limit``.
        StoreError: the statement ran past ``timeout`` or out of memory, or a trial file
            cannot be read.
    """
    duckdb = require("duckdb", "duckdb", "sql", "tcplab sql")
    if timeout is not None and not (math.isfinite(timeout) and timeout >= 0):
        raise UsageError(f"--timeout must be a number of seconds >= 0 (0: none), not {timeout}")
    limit = _memory_limit(memory_limit)
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"cannot parse SQL: {_first_line(exc)}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise UsageError("tcplab sql runs exactly one read-only SELECT statement")
    files = [str(f) for f in _trial_files(run_dir)]
    with tempfile.TemporaryDirectory(prefix="tcplab-sql-") as tmp:
        con = duckdb.connect(":memory:")
        try:
            _sandbox(con, files, tmp, limit)
            try:
                con.read_parquet(files, hive_partitioning="arm=" in files[0]).create_view("trials")
            except duckdb.Error as exc:
                raise StoreError(
                    f"{run_dir}: cannot read the trial files: {_first_line(exc)}"
                ) from exc
            return _execute(duckdb, con, statements[0].query, timeout, limit)
        finally:
            con.close()


def _execute(
    duckdb: Any, con: Any, query: str, timeout: float | None, limit: str
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run ``query``, interrupting it from a timer thread after ``timeout`` seconds."""
    timer = threading.Timer(timeout, con.interrupt) if timeout else None
    if timer is not None:
        timer.daemon = True
        timer.start()
    try:
        cur = con.execute(query)
        names = [d[0] for d in cur.description or []]
        rows = [tuple(r) for r in cur.fetchall()]
    except duckdb.InterruptException as exc:
        raise StoreError(
            f"SQL statement interrupted after --timeout {timeout:g} s; narrow it or pass a "
            "larger --timeout"
        ) from exc
    except duckdb.OutOfMemoryException as exc:
        raise StoreError(
            f"SQL statement needs more than --memory-limit {limit}: {_first_line(exc)}"
        ) from exc
    except duckdb.IOException as exc:
        raise StoreError(f"SQL failed reading the trials: {_first_line(exc)}") from exc
    except duckdb.Error as exc:
        raise UsageError(f"SQL failed: {_first_line(exc)}") from exc
    finally:
        if timer is not None:
            timer.cancel()
            timer.join()
    return names, rows


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
