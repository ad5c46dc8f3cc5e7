"""``tcplab db``, ``tcplab runs sync|push|fetch``, ``tcplab query`` and ``tcplab sql``."""

from __future__ import annotations

import csv
import enum
import sys
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tcplab.cli._console import console, emit_json
from tcplab.config import get_settings
from tcplab.errors import UsageError

__all__ = ["db_app", "register", "register_runs_commands", "runs_app"]

DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="SQLAlchemy URL (default TCPLAB_DATABASE_URL, else SQLite)."),
]


class Format(enum.StrEnum):
    """Output formats of ``query`` and ``sql``."""

    table = "table"
    csv = "csv"
    json = "json"


FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="table, csv or json.")]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


def emit_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]], fmt: Format) -> None:
    """Print rows as a rich table, CSV (header first) or one JSON array of objects."""
    if fmt is Format.json:
        emit_json([{c: _plain(v) for c, v in zip(columns, row, strict=True)} for row in rows])
    elif fmt is Format.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([[_plain(v) for v in row] for row in rows])
    else:
        table = Table()
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(_plain(v)) for v in row))
        console.print(table)
        console.print(f"{len(rows)} row(s)", highlight=False)


db_app = typer.Typer(
    help="The SQL result store's schema (Alembic migrations).", no_args_is_help=True
)
runs_app = typer.Typer(help="Runs: load into the database, push and fetch.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(
    db: DbOpt = None,
    revision: Annotated[str, typer.Option("--revision", help="Target revision.")] = "head",
) -> None:
    """Migrate the database to the newest schema (or --revision)."""
    from tcplab.store import open_store
    from tcplab.store._migrate import current_revision, store_engine, upgrade

    with open_store(db, migrate=False) as store:
        upgrade(store_engine(store), revision)
        rev = current_revision(store_engine(store))
        console.print(f"{store!r}: at revision {rev}", highlight=False)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table.")],
    db: DbOpt = None,
) -> None:
    """Migrate the database down to REVISION."""
    from tcplab.store import open_store
    from tcplab.store._migrate import current_revision, downgrade, store_engine

    with open_store(db, migrate=False) as store:
        downgrade(store_engine(store), revision)
        rev = current_revision(store_engine(store))
        console.print(f"{store!r}: at revision {rev or 'base'}", highlight=False)


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Print the database's schema revision and the newest one this tcplab ships."""
    from tcplab.store import open_store
    from tcplab.store._migrate import current_revision, head_revision, store_engine

    with open_store(db, migrate=False) as store:
        rev = current_revision(store_engine(store))
        head = head_revision()
        state = "up to date" if rev == head else "needs `tcplab db upgrade`"
        console.print(f"{store!r}: {rev or 'empty'} (head {head}, {state})", highlight=False)


def register_runs_commands(app: typer.Typer) -> None:
    """Add ``sync``, ``push`` and ``fetch`` to a ``runs`` command group."""

    @app.command("sync")
    def sync(
        run: Annotated[str, typer.Argument(help="Run id (under TCPLAB_HOME/runs) or run dir.")],
        db: DbOpt = None,
        reference_arm: Annotated[
            str | None, typer.Option("--reference-arm", help="Arm speed ratios are against.")
        ] = None,
    ) -> None:
        """Load a run's metadata, shards, trials and results into the database (idempotent)."""
        from tcplab.store import open_store, sync_run

        with open_store(db) as store:
            rep = sync_run(run, store, reference_arm=reference_arm)
            console.print(
                f"synced {rep.run_id}: {rep.shards} shard(s), {rep.trials} trial(s), "
                f"{rep.results} result row(s) → {store!r}",
                highlight=False,
            )

    @app.command("push")
    def push(
        run: Annotated[str, typer.Argument(help="Run id or run directory.")],
        to: Annotated[
            str | None,
            typer.Option("--to", help="Directory or s3://bucket/prefix (TCPLAB_ARTIFACTS_URL)."),
        ] = None,
    ) -> None:
        """Upload a run (trials by arm, metadata, reports, manifest.json) to an artifact store."""
        from tcplab.store import push_run

        console.print(push_run(run, to), highlight=False)

    @app.command("fetch")
    def fetch(
        url: Annotated[str, typer.Argument(help="A pushed run: .../runs/RUN_ID.")],
        to: Annotated[
            Path | None, typer.Option("--to", help="Parent directory (TCPLAB_HOME/runs).")
        ] = None,
    ) -> None:
        """Download a pushed run, verify manifest.json and rebuild its run directory."""
        from tcplab.store import fetch_run

        dest = to if to is not None else get_settings().home / "runs"
        console.print(str(fetch_run(url, dest)), highlight=False)


register_runs_commands(runs_app)


def _latest_run() -> Path:
    runs = get_settings().home / "runs"
    found = sorted(runs.glob("*/run.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(f"no runs under {runs}; pass --run RUN_ID_OR_DIR")
    return found[-1].parent


def register(app: typer.Typer, *, with_runs: bool = True) -> None:
    """Add ``db``, ``runs``, ``query`` and ``sql`` to ``app``.

    Args:
        app: the root Typer app.
        with_runs: also add the ``runs`` group; pass False when another module owns
            ``runs`` and call :func:`register_runs_commands` on that group instead.
    """
    app.add_typer(db_app, name="db")
    if with_runs:
        app.add_typer(runs_app, name="runs")

    @app.command("query")
    def query(
        type_: Annotated[str | None, typer.Option("--type", help="Run type.")] = None,
        since: Annotated[
            str | None, typer.Option("--since", help="Started at or after (ISO date/time, UTC).")
        ] = None,
        tool: Annotated[str | None, typer.Option("--tool", help="Tool name.")] = None,
        arm: Annotated[str | None, typer.Option("--arm", help="Arm name.")] = None,
        status: Annotated[str | None, typer.Option("--status", help="Run status.")] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows.")] = None,
        db: DbOpt = None,
        fmt: FormatOpt = Format.table,
    ) -> None:
        """Runs joined with their per-tool per-arm results (filters are bound parameters)."""
        from tcplab.store import QUERY_COLUMNS, open_store, query_runs

        with open_store(db) as store:
            rows = query_runs(
                store, type=type_, since=since, tool=tool, arm=arm, status=status, limit=limit
            )
        emit_rows(QUERY_COLUMNS, [[r.get(c) for c in QUERY_COLUMNS] for r in rows], fmt)

    @app.command("sql")
    def sql(
        statement: Annotated[str, typer.Argument(help="One SELECT over the view `trials`.")],
        run: Annotated[
            str | None,
            typer.Option("--run", help="Run id or directory (default: the newest run)."),
        ] = None,
        fmt: FormatOpt = Format.table,
    ) -> None:
        """Read-only DuckDB SQL over a run's raw Parquet trials (view `trials`)."""
        from tcplab.store import resolve_run_dir, run_sql

        if run is None:
            run_dir = _latest_run()
        elif (Path(run) / "trials").is_dir():
            run_dir = Path(run)
        else:
            run_dir = resolve_run_dir(run)
        columns, rows = run_sql(statement, run_dir)
        emit_rows(columns, rows, fmt)
