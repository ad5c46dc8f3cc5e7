"""PostgreSQL result store (psycopg 3): bulk loads with ``COPY`` into a staging table.

Trials go Arrow → CSV (Arrow's C++ writer) → ``COPY _tcplab_stage FROM STDIN`` →
``INSERT INTO trials SELECT ... ON CONFLICT (run_id, shard, seq) DO NOTHING``, all in one
transaction. ``run_metrics`` is partitioned by month of ``ts``; the month's partition is
created on demand before points are written (points land in the default partition when it
cannot be created).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pyarrow.csv as pacsv

from tcplab.experiment._records import TRIAL_COLUMNS
from tcplab.store._arrow import jsonify_lists, normalize_trials
from tcplab.store._base import MetricPoint
from tcplab.store._config import require
from tcplab.store._sql import SqlStore, parse_ts

if TYPE_CHECKING:
    import pyarrow as pa
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine

__all__ = ["PostgresStore", "psycopg_url", "trials_csv"]

_COLS = ", ".join(TRIAL_COLUMNS)
_STAGE = "CREATE TEMP TABLE _tcplab_stage (LIKE trials INCLUDING DEFAULTS) ON COMMIT DROP"
_COPY = f"COPY _tcplab_stage ({_COLS}) FROM STDIN (FORMAT csv)"
_MERGE = (
    f"INSERT INTO trials ({_COLS}) SELECT {_COLS} FROM _tcplab_stage "
    "ON CONFLICT (run_id, shard, seq) DO NOTHING"
)
_CHUNK = 1 << 20


def psycopg_url(url: str) -> str:
    """``postgresql://`` / ``postgres://`` URLs pinned to the psycopg 3 driver."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


def trials_csv(table: pa.Table) -> bytes:
    """A normalised trial table as headerless CSV (lists as JSON text; null = empty field)."""
    buf = io.BytesIO()
    opts = pacsv.WriteOptions(include_header=False, batch_size=1 << 16)
    pacsv.write_csv(jsonify_lists(table), buf, opts)
    return buf.getvalue()


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

    def _insert(self, table: sa.Table) -> Any:
        from sqlalchemy.dialects.postgresql import insert

        return insert(table)

    def write_trials(self, run_id: str, shard: int, table: pa.Table) -> int:
        """Load one shard: COPY into a temp table, then insert what is not there yet."""
        table = normalize_trials(table, run_id, shard)
        data = memoryview(trials_csv(table))
        with self._guard("write trials"), self.engine.begin() as conn:
            raw = conn.connection.driver_connection
            assert raw is not None
            with raw.cursor() as cur:
                cur.execute(_STAGE)
                with cur.copy(_COPY) as copy:
                    for start in range(0, len(data), _CHUNK):
                        copy.write(data[start : start + _CHUNK])
                cur.execute(_MERGE)
        return int(table.num_rows)

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
