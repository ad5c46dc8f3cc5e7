"""PostgreSQL result store (psycopg 3): bulk loads with ``COPY`` into a staging table.

Trials go Arrow → CSV (Arrow's C++ writer, streamed in batches) → ``COPY``: straight into
``trials`` when the shard has no stored rows yet, else into a temp table followed by
``INSERT INTO trials SELECT ... ON CONFLICT (run_id, shard, seq) DO NOTHING`` (one
transaction each). ``run_metrics`` is partitioned by month of ``ts``; the month's partition is
created on demand before points are written (points land in the default partition when it
cannot be created).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow.csv as pacsv

from tcplab.experiment.trials import TRIAL_COLUMNS
from tcplab.store._arrow import jsonify_lists, normalize_trials
from tcplab.store._base import MetricPoint
from tcplab.store._config import require
from tcplab.store._sql import SqlStore, parse_ts

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine

__all__ = ["PostgresStore", "psycopg_url", "trials_csv", "trials_csv_chunks"]

_COLS = ", ".join(TRIAL_COLUMNS)
_STAGE = "CREATE TEMP TABLE _tcplab_stage (LIKE trials INCLUDING DEFAULTS) ON COMMIT DROP"
_COPY = f"COPY _tcplab_stage ({_COLS}) FROM STDIN (FORMAT csv)"
_COPY_DIRECT = f"COPY trials ({_COLS}) FROM STDIN (FORMAT csv)"
_EXISTS = "SELECT 1 FROM trials WHERE run_id = %s AND shard = %s LIMIT 1"
_MERGE = (
    f"INSERT INTO trials ({_COLS}) SELECT {_COLS} FROM _tcplab_stage "
    "ON CONFLICT (run_id, shard, seq) DO NOTHING"
)
_BATCH = 1 << 15


def psycopg_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` URLs pinned to the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


def trials_csv_chunks(table: pa.Table) -> Iterator[bytes]:
    """A normalised trial table as headerless CSV pieces (lists as JSON; null = empty field)."""
    opts = pacsv.WriteOptions(include_header=False, batch_size=_BATCH)
    for batch in jsonify_lists(table).to_batches(max_chunksize=_BATCH):
        buf = io.BytesIO()
        pacsv.write_csv(batch, buf, opts)
        yield buf.getvalue()


def trials_csv(table: pa.Table) -> bytes:
    """The whole table as one CSV document (what ``psql \\copy`` would read)."""
    return b"".join(trials_csv_chunks(table))


def _month_bounds(ts: datetime) -> tuple[datetime, datetime]:
    start = datetime(ts.year, ts.month, 1, tzinfo=UTC)
    end = datetime(ts.year + (ts.month == 12), ts.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


class PostgresStore(SqlStore):
    """Results in PostgreSQL through a pooled SQLAlchemy engine on psycopg 3."""

    backend = "postgresql"
    extra = "postgres"

    def __init__(self, url: str) -> None:
        self._partitions: set[str] = set()  # monthly partitions known to exist
        super().__init__(url)

    def _create_engine(self, url: str) -> Engine:
        require("psycopg", "psycopg", "postgres", "the PostgreSQL result store")
        engine: Engine = self._sa.create_engine(
            psycopg_url(url),
            pool_size=4,
            max_overflow=4,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 5},
        )
        return engine

    def _raw_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error,)

    def _insert(self, table: sa.Table) -> Any:
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)

    def write_trials(self, run_id: str, shard: int, table: pa.Table) -> int:
        """Load one shard with COPY; rows already stored (same run/shard/seq) are kept.

        A shard with no stored rows yet is copied straight into ``trials`` (the common case:
        the engine writes each shard once). Otherwise — a re-sync, or a concurrent writer
        that got there first (unique violation) — the rows are copied into a temp table and
        merged with ``INSERT ... ON CONFLICT DO NOTHING``.
        """
        table = normalize_trials(table, run_id, shard)
        errors = require("psycopg", "psycopg", "postgres", "the PostgreSQL result store").errors
        with self._guard("write trials"):
            try:
                with self.engine.begin() as conn:
                    raw: Any = conn.connection.driver_connection
                    with raw.cursor() as cur:
                        cur.execute(_EXISTS, (run_id, shard))
                        if cur.fetchone() is None:
                            self._copy(cur, _COPY_DIRECT, table)
                            return int(table.num_rows)
            except errors.UniqueViolation:
                pass  # another writer stored rows of this shard first: merge instead
            with self.engine.begin() as conn:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur:
                    cur.execute(_STAGE)
                    self._copy(cur, _COPY, table)
                    cur.execute(_MERGE)
        return int(table.num_rows)

    @staticmethod
    def _copy(cur: Any, sql: str, table: pa.Table) -> None:
        """Stream ``table`` as CSV; a writer thread sends while the next batch is encoded."""
        from psycopg.copy import QueuedLibpqWriter

        with cur.copy(sql, writer=QueuedLibpqWriter(cur)) as copy:
            for chunk in trials_csv_chunks(table):
                copy.write(chunk)

    def _before_metrics(self, conn: Connection, points: Sequence[MetricPoint]) -> None:
        """Create the monthly partitions the points fall in (``run_metrics_yYYYYmMM``)."""
        months = {_month_bounds(ts) for ts in (parse_ts(p[0]) for p in points) if ts}
        for start, end in sorted(months):
            name = f"run_metrics_y{start.year:04d}m{start.month:02d}"
            if name in self._partitions:
                continue
            ddl = (
                f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF run_metrics "
                f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
            )
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(ddl)
            except self._sa.exc.DBAPIError:
                continue  # e.g. the default partition already holds rows of that month
            self._partitions.add(name)
