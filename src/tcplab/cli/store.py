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
from rich.markup import escape
from rich.table import Table

from tcplab.cli._console import console, emit_json, err_console
from tcplab.config import get_settings
from tcplab.errors import UsageError
from tcplab.store import DEFAULT_SQL_MEMORY, DEFAULT_SQL_TIMEOUT_S

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
            table.add_column(escape(col), overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else escape(str(_plain(v))) for v in row))
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
    """Migrate the database to the newest schema (or --revision); creates it if missing."""
    from tcplab.store import open_store
    from tcplab.store.migrations import check_target, current_revision, store_engine, upgrade

    check_target(revision)
    with open_store(db, migrate=False) as store:
        upgrade(store_engine(store), revision)
        rev = current_revision(store_engine(store))
        console.print(f"{_name(store)}: at revision {rev or 'base'}", highlight=False)


@db_app.command("downgrade")
def db_downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision; 'base' drops every table.")],
    db: DbOpt = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Do not ask: tables and their rows are dropped.")
    ] = False,
) -> None:
    """Migrate the database down to REVISION (destructive: asks first, or pass --yes)."""
    from tcplab.store import open_store
    from tcplab.store.migrations import check_target, current_revision, downgrade, store_engine

    check_target(revision, "downgrade")
    with open_store(db, migrate=False, create=False) as store:
        rev = current_revision(store_engine(store))
        if not yes:
            _confirm_downgrade(_name(store), rev, revision)
        downgrade(store_engine(store), revision)
        rev = current_revision(store_engine(store))
        console.print(f"{_name(store)}: at revision {rev or 'base'}", highlight=False)


def _confirm_downgrade(name: str, current: str | None, target: str) -> None:
    """Ask on a terminal; refuse (naming --yes) when nobody can answer."""
    what = f"downgrading {name} from revision {current or 'base'} to {target!r}"
    if sys.stdin is None or not sys.stdin.isatty():  # None: stdin is closed
        raise UsageError(
            f"{what} drops tables and every row in them; pass --yes to confirm "
            "(stdin is not a terminal, so tcplab cannot ask)"
        )
    if not typer.confirm(f"{what} drops tables and every row in them. Continue?", default=False):
        err_console.print("aborted; nothing was changed", highlight=False)
        raise typer.Exit(1)


@db_app.command("current")
def db_current(db: DbOpt = None) -> None:
    """Print the database's schema revision and the newest one this tcplab ships."""
    from tcplab.store import open_store
    from tcplab.store.migrations import (
        current_revision,
        head_revision,
        known_revision,
        store_engine,
        unknown_revision_error,
    )

    with open_store(db, migrate=False, create=False) as store:
        rev = current_revision(store_engine(store))
        if not known_revision(rev):
            raise unknown_revision_error(store_engine(store), str(rev))
        head = head_revision()
        state = "up to date" if rev == head else "needs `tcplab db upgrade`"
        console.print(f"{_name(store)}: {rev or 'empty'} (head {head}, {state})", highlight=False)


def _name(store: object) -> str:
    """The store's repr (password hidden), safe to print through rich."""
    return escape(repr(store))


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
                f"synced {escape(rep.run_id)}: {rep.shards} shard(s), {rep.trials} trial(s), "
                f"{rep.results} result row(s) → {_name(store)}",
                highlight=False,
            )

    @app.command("push")
    def push(
        run: Annotated[str, typer.Argument(help="Run id or run directory.")],
        to: Annotated[
            str | None,
            typer.Option("--to", help="Directory or s3://bucket/prefix (TCPLAB_ARTIFACTS_URL)."),
        ] = None,
        force: Annotated[bool, ForceOpt] = False,
    ) -> None:
        """Upload a run (trials by arm, metadata, reports, manifest.json) to an artifact store.

        An older copy of the same run is replaced when this one supersedes it (it holds every
        shard the old one has); any other copy is kept unless --force, which moves it aside.
        """
        from tcplab.store import push_run

        url = push_run(run, to, force=force, on_replace=_moved)
        console.print(escape(url), highlight=False)

    @app.command("fetch")
    def fetch(
        url: Annotated[str, typer.Argument(help="A pushed run: .../runs/RUN_ID.")],
        to: Annotated[
            Path | None,
            typer.Option("--to", help="Parent directory (TCPLAB_HOME/runs).", readable=False),
        ] = None,
        force: Annotated[bool, ForceOpt] = False,
    ) -> None:
        """Download a pushed run, verify manifest.json and rebuild its run directory.

        An existing local copy that differs is kept unless --force, which moves it aside.
        """
        from tcplab.store import fetch_run

        dest = to if to is not None else get_settings().home / "runs"
        run_dir = fetch_run(url, dest, force=force, on_replace=_moved)
        console.print(escape(str(run_dir)), highlight=False)


ForceOpt = typer.Option(
    "--force",
    help="Replace an existing copy: it is moved aside to RUN_ID.replaced-<UTC time>, "
    "never deleted.",
)


def _moved(old: str, new: str) -> None:
    err_console.print(f"moved the existing copy {escape(old)} aside to {escape(new)}")


register_runs_commands(runs_app)


def _latest_run() -> Path:
    runs = get_settings().home / "runs"

    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    found = sorted((p for p in runs.glob("*/run.json") if p.is_file()), key=mtime)
    if not found:
        raise UsageError(f"no runs under {runs}; pass --run RUN_ID_OR_DIR")
    return found[-1].parent


#: The largest --limit (a signed 64-bit integer, what every database accepts).
MAX_LIMIT = 2**63 - 1


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
    app.command("query")(query)
    app.command("sql")(sql)


def query(
    type_: Annotated[str | None, typer.Option("--type", help="Run type.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Started at or after (ISO date/time, UTC).")
    ] = None,
    tool: Annotated[str | None, typer.Option("--tool", help="Tool name.")] = None,
    arm: Annotated[str | None, typer.Option("--arm", help="Arm name.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Run status.")] = None,
    limit: Annotated[
        str | None, typer.Option("--limit", help=f"At most N rows (1..{MAX_LIMIT}).")
    ] = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Runs joined with their per-tool per-arm results (read-only; filters are bound)."""
    from tcplab.store import QUERY_COLUMNS, open_store, query_runs
    from tcplab.store.migrations import require_current, store_engine

    n = _limit(limit)
    with open_store(db, migrate=False, create=False) as store:
        require_current(store_engine(store))
        rows = query_runs(
            store, type=type_, since=since, tool=tool, arm=arm, status=status, limit=n
        )
    emit_rows(QUERY_COLUMNS, [[r.get(c) for c in QUERY_COLUMNS] for r in rows], fmt)


def _limit(text: str | None) -> int | None:
    """``--limit`` as an int in 1..MAX_LIMIT (UsageError otherwise)."""
    if text is None:
        return None
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"--limit must be a whole number, not {text!r}") from None
    if not 1 <= n <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT} (got {text})")
    return n


def sql(
    statement: Annotated[str, typer.Argument(help="One SELECT over the view `trials`.")],
    run: Annotated[
        str | None,
        typer.Option("--run", help="Run id or directory (default: the newest run)."),
    ] = None,
    fmt: FormatOpt = Format.table,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Interrupt the statement after this many seconds."),
    ] = DEFAULT_SQL_TIMEOUT_S,
    memory_limit: Annotated[
        str,
        typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 512MB or 4GB."),
    ] = DEFAULT_SQL_MEMORY,
) -> None:
    """Read-only DuckDB SQL over a run's raw Parquet trials (view `trials`)."""
    from tcplab.store import resolve_run_dir, run_sql

    if run is None:
        run_dir = _latest_run()
    elif (Path(run) / "trials").is_dir():
        run_dir = Path(run)
    else:
        run_dir = resolve_run_dir(run)
    columns, rows = run_sql(statement, run_dir, timeout=timeout, memory_limit=memory_limit)
    emit_rows(columns, rows, fmt)
