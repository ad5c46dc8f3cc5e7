"""Queries: the SQL store (runs × results, bound parameters) and DuckDB over raw trials."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.errors import UsageError
from tcplab.store._config import require
from tcplab.store._sql import parse_ts

if TYPE_CHECKING:
    from types import ModuleType

    from tcplab.store._base import ResultStore

__all__ = ["QUERY_COLUMNS", "query_runs", "run_sql", "select_results"]

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
    if (run / "trials").is_dir():
        files = sorted((run / "trials").glob("shard-*.parquet"))
        files = files or sorted((run / "trials").glob("arm=*/part-*.parquet"))
        if files:
            return files
    raise UsageError(f"{run}: no trial Parquet files under trials/")


def run_sql(sql: str, run_dir: Path) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Run one read-only SELECT with DuckDB over a run's trials, exposed as view ``trials``.

    DuckDB runs in memory (no database file); once the view is defined, external access
    (files, network, extensions) is switched off and the configuration locked, so the
    statement can read nothing but ``trials``.

    Returns:
        Column names and rows.

    Raises:
        UsageError: not exactly one SELECT statement, or DuckDB rejected it.
    """
    duckdb = require("duckdb", "duckdb", "sql", "tcplab sql")
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(f"cannot parse SQL: {exc}") from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        raise UsageError("tcplab sql runs exactly one read-only SELECT statement")
    files = [str(f) for f in _trial_files(run_dir)]
    con = duckdb.connect(":memory:")
    try:
        # Our own file names as string literals ('' escapes '): the only paths readable.
        allowed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
        con.execute(f"SET allowed_paths = [{allowed}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        con.read_parquet(files, hive_partitioning="arm=" in files[0]).create_view("trials")
        try:
            cur = con.execute(statements[0].query)
            names = [d[0] for d in cur.description or []]
            rows = [tuple(r) for r in cur.fetchall()]
        except duckdb.Error as exc:
            raise UsageError(f"SQL failed: {exc}") from exc
    finally:
        con.close()
    return names, rows
