"""The SQLAlchemy part shared by the SQLite and PostgreSQL stores."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tcplab.errors import UsageError
from tcplab.store._base import MetricPoint, ResultStore
from tcplab.store._config import redact_url, require
from tcplab.store._errors import StoreError, StorePermissionError, StoreUnavailableError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection, Engine

__all__ = ["SqlStore", "parse_ts", "run_row"]

_AUTH_HINTS = ("password authentication failed", 'role "', "no password supplied", "permission")
_RUN_TEXT = ("name", "type", "description", "status", "created_by", "plan_hash", "spec_hash")


def parse_ts(value: Any) -> datetime | None:
    """An ISO-8601 string / datetime as an aware UTC datetime (naive means UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise UsageError(f"not an ISO-8601 timestamp: {value!r}") from exc
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def run_row(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The ``runs`` row of a ``run.json`` document (the whole document goes to ``metadata``)."""
    run_id = meta.get("run_id")
    if not run_id or not isinstance(run_id, str):
        raise UsageError("run metadata needs a string 'run_id'")
    row: dict[str, Any] = {"id": run_id}
    row.update({k: (None if meta.get(k) is None else str(meta[k])) for k in _RUN_TEXT})
    row.update(
        spec=meta.get("spec"),
        tags=list(meta.get("tags") or []),
        started_at=parse_ts(meta.get("started_at")),
        finished_at=parse_ts(meta.get("finished_at")),
        seed=_int(meta.get("seed")),
        n_trials=_int(meta.get("n_trials")),
        n_shards=_int(meta.get("n_shards")),
        metadata=json.loads(json.dumps(dict(meta), default=str)),
        updated_at=datetime.now(UTC),
    )
    return row


def labels_key(labels: Mapping[str, Any]) -> str:
    """A short stable hash of a label set (part of a metric point's key)."""
    if not labels:
        return ""
    text = json.dumps(dict(labels), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


class SqlStore(ResultStore):
    """A :class:`ResultStore` on a SQLAlchemy engine; subclasses load trials their own way."""

    extra = "sql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self._sa = require("sqlalchemy", "sqlalchemy", self.extra, "the SQL result store")
        from tcplab.store import _models

        self._models = _models
        with self._guard("connect to"):
            try:
                self.engine: Engine = self._create_engine(url)
            except ValueError as exc:  # e.g. a port that is not a number
                raise UsageError(f"not a valid database URL {redact_url(url)!r}: {exc}") from exc
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")

    # -- hooks --------------------------------------------------------------------------
    def _create_engine(self, url: str) -> Engine:
        raise NotImplementedError

    def _insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT construct (it has ``on_conflict_do_update``)."""
        raise NotImplementedError

    def _before_metrics(self, conn: Connection, points: Sequence[MetricPoint]) -> None:
        """Called in the metrics transaction before the points are written."""

    # -- plumbing -----------------------------------------------------------------------
    def _raw_errors(self) -> tuple[type[BaseException], ...]:
        """Driver exception classes that can escape SQLAlchemy (raw-cursor work)."""
        return ()

    def _translate(self, exc: BaseException, what: str, operational: bool) -> StoreError:
        text = str(getattr(exc, "orig", None) or exc)
        first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        where = redact_url(self.url)
        if operational:
            if any(h in text for h in _AUTH_HINTS):
                return StorePermissionError(f"database {where} refused access: {first}")
            if (
                getattr(exc, "connection_invalidated", False)
                or what == "connect to"
                or ("connect" in text)
            ):
                return StoreUnavailableError(f"cannot {what} database {where}: {first}")
        return StoreError(f"database {where}: {what} failed: {first}")

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Translate SQLAlchemy / driver errors into :class:`StoreError` subclasses."""
        exc_mod = self._sa.exc
        try:
            yield
        except exc_mod.DBAPIError as exc:
            op = isinstance(exc, exc_mod.OperationalError | exc_mod.InterfaceError)
            raise self._translate(exc, what, op) from exc
        except exc_mod.SQLAlchemyError as exc:
            raise self._translate(exc, what, False) from exc
        except self._raw_errors() as exc:
            op = type(exc).__name__ in ("OperationalError", "InterfaceError")
            raise self._translate(exc, what, op) from exc

    def _upsert(self, conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        keys = [c.name for c in table.primary_key.columns]
        update = {c: stmt.excluded[c] for c in rows[0] if c not in keys}
        if update:
            stmt = stmt.on_conflict_do_update(index_elements=keys, set_=update)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=keys)
        conn.execute(stmt, rows)

    # -- ResultStore --------------------------------------------------------------------
    def migrate(self) -> None:
        """Run the Alembic migrations up to the newest revision."""
        from tcplab.store._migrate import upgrade

        with self._guard("migrate"):
            upgrade(self.engine)

    def upsert_run(self, meta: Mapping[str, Any]) -> None:
        """Insert or update one run (see :meth:`ResultStore.upsert_run`)."""
        row = run_row(meta)
        with self._guard("write run"), self.engine.begin() as conn:
            self._upsert(conn, self._models.runs_table, [row])

    def mark_shard(self, run_id: str, shard: int, status: str, n_trials: int) -> None:
        """Record a shard's status and trial count (upsert)."""
        row = {
            "run_id": run_id,
            "shard": int(shard),
            "status": status,
            "n_trials": int(n_trials),
            "written_at": datetime.now(UTC),
        }
        with self._guard("mark shard"), self.engine.begin() as conn:
            self._upsert(conn, self._models.shards_table, [row])

    def write_results(self, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert per-tool per-arm aggregates."""
        cols = [c.name for c in self._models.results_table.columns]
        out = [{c: r.get(c) for c in cols if c != "run_id"} | {"run_id": run_id} for r in rows]
        for row in out:
            if not row.get("tool") or not row.get("arm") or row.get("n") is None:
                raise UsageError("each result row needs 'tool', 'arm' and 'n'")
        with self._guard("write results"), self.engine.begin() as conn:
            self._upsert(conn, self._models.results_table, out)

    def write_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points (same run/ts/name/labels replaces the value)."""
        rows = []
        for ts, name, value, labels in points:
            when = parse_ts(ts)
            rows.append(
                {
                    "run_id": run_id,
                    "ts": when,
                    "name": name,
                    "labels_key": labels_key(labels),
                    "value": float(value),
                    "labels": dict(labels) if labels else None,
                }
            )
        with self._guard("write metrics"), self.engine.begin() as conn:
            self._before_metrics(conn, points)
            self._upsert(conn, self._models.metrics_table, rows)

    def query_results(self, **filters: Any) -> list[dict[str, Any]]:
        """Runs joined with per-tool results; see :func:`tcplab.store.query_runs`."""
        from tcplab.store._query import select_results

        stmt = select_results(self._models, **filters)
        with self._guard("query"), self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def close(self) -> None:
        """Dispose of the engine's connection pool."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()
