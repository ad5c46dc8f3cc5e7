"""SQLite result store (the default): one file, ``executemany`` in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.errors import UsageError
from tcplab.experiment.trials import TRIAL_COLUMNS
from tcplab.store._arrow import jsonify_lists, normalize_trials
from tcplab.store._errors import StoreUnavailableError
from tcplab.store._sql import SqlStore

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

__all__ = ["SqliteStore"]

_INSERT = (
    f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}) "
    f"VALUES ({', '.join('?' for _ in TRIAL_COLUMNS)})"
)


def _require_file(path: Path) -> None:
    """StoreUnavailableError unless ``path`` is an existing regular file (creates nothing)."""
    if not path.exists():
        raise StoreUnavailableError(
            f"database {path} does not exist (nothing was created); check --db / "
            "TCPLAB_DATABASE_URL, or create it with `tcplab db upgrade` or `tcplab runs sync RUN`"
        )
    if not path.is_file():
        raise StoreUnavailableError(f"database {path} is not a regular file")


class SqliteStore(SqlStore):
    """Results in a SQLite file (WAL journal, foreign keys on, 30 s busy timeout)."""

    backend = "sqlite"

    def __init__(self, url: str, *, create: bool = True) -> None:
        self._create = create
        super().__init__(url)

    def _create_engine(self, url: str) -> Engine:
        sa = self._sa
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise UsageError(f"not a database URL: {url!r} ({exc})") from exc
        if parsed.database and parsed.database != ":memory:":
            try:
                path = Path(parsed.database).expanduser()
            except RuntimeError as exc:  # ~user that does not exist
                raise UsageError(f"database path {parsed.database!r}: {exc}") from exc
            if not self._create:
                _require_file(path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot connect to database {url}: cannot create {path.parent}: "
                    f"{exc.strerror or exc}"
                ) from exc
            if path.exists() and not path.is_file():
                raise StoreUnavailableError(f"database {path} is not a regular file")
        engine: Engine = sa.create_engine(parsed, connect_args={"timeout": 30})

        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        sa.event.listen(engine, "connect", _pragmas)
        return engine

    def _insert(self, table: sa.Table) -> Any:
        from sqlalchemy.dialects.sqlite import insert

        return insert(table)

    def write_trials(self, run_id: str, shard: int, table: pa.Table) -> int:
        """Load one shard with ``INSERT OR IGNORE`` (executemany, one transaction)."""
        table = jsonify_lists(normalize_trials(table, run_id, shard))
        columns = [col.to_pylist() for col in table.columns]
        rows = list(zip(*columns, strict=True))
        with self._guard("write trials"), self.engine.begin() as conn:
            if rows:
                conn.exec_driver_sql(_INSERT, rows)
        return len(rows)
