"""SQLite result store (the default): one file, ``executemany`` in one transaction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

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


class SqliteStore(SqlStore):
    """Results in a SQLite file (WAL journal, foreign keys on, 30 s busy timeout)."""

    backend = "sqlite"

    def _create_engine(self, url: str) -> Engine:
        sa = self._sa
        parsed = sa.engine.make_url(url)
        if parsed.database and parsed.database != ":memory:":
            parent = Path(parsed.database).expanduser().parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailableError(
                    f"cannot connect to database {url}: cannot create {parent}: {exc}"
                ) from exc
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
