"""The :class:`ResultStore` interface and the :func:`open_store` factory.

The experiment engine writes through these six methods; everything is keyed so that writing
the same thing twice leaves one copy (runs by id, shards by run/shard, trials by
run/shard/seq, results by run/tool/arm, metric points by run/ts/name/labels).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tcplab.errors import UsageError
from tcplab.store._config import database_url, redact_url

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["MetricPoint", "ResultStore", "open_store"]

#: ``(ts, name, value, labels)``; ``ts`` should be timezone-aware (naive means UTC).
MetricPoint = tuple[datetime, str, float, Mapping[str, Any]]


class ResultStore(ABC):
    """Where runs, trials, per-tool results and run metrics are kept (a SQL database).

    Every write is idempotent. Errors are :class:`~tcplab.store.StoreError` subclasses;
    :class:`~tcplab.store.StoreUnavailableError` means the database cannot be reached.
    """

    #: ``sqlite`` or ``postgresql``.
    backend: str = ""

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    def upsert_run(self, meta: Mapping[str, Any]) -> None:
        """Insert or update one run from its ``run.json`` document (key: ``run_id``)."""

    @abstractmethod
    def write_trials(self, run_id: str, shard: int, table: pa.Table) -> int:
        """Load one shard's trials (TRIAL_SCHEMA); rows already stored are left as they are.

        Returns:
            The number of rows in ``table`` (rows already present are counted too).
        """

    @abstractmethod
    def mark_shard(self, run_id: str, shard: int, status: str, n_trials: int) -> None:
        """Record a shard's status (e.g. ``loaded``) and trial count (upsert)."""

    @abstractmethod
    def write_results(self, run_id: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Upsert per-tool per-arm aggregates (the dicts of :func:`compute_results`)."""

    @abstractmethod
    def write_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points; a point with the same ts/name/labels replaces its value."""

    @abstractmethod
    def query_results(self, **filters: Any) -> list[dict[str, Any]]:
        """Runs joined with their per-tool results (see :func:`tcplab.store.query_runs`)."""

    def migrate(self) -> None:  # noqa: B027 - optional hook, no-op by default
        """Bring the schema to the newest revision (SQL backends run Alembic)."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. The store cannot be used afterwards."""

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({redact_url(self.url)!r})"


def open_store(url: str | None = None, *, migrate: bool = True, create: bool = True) -> ResultStore:
    """Open the result store at ``url`` (default ``TCPLAB_DATABASE_URL``, else SQLite).

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path`` or ``postgresql://user@host/db``
            (``postgresql+psycopg://`` is implied).
        migrate: bring the schema to the newest revision first (idempotent and cheap).
        create: create a missing SQLite file (and its directory). Read-only callers pass
            False: a missing file is then an error and nothing is created.

    Raises:
        UsageError: a URL of a kind tcplab does not support.
        StoreUnavailableError: the database cannot be reached (or, with ``create=False``,
            the SQLite file does not exist).
        StoreError: the database is at a schema revision this tcplab does not know.
        MissingDependencyError: SQLAlchemy / psycopg are not installed.
    """
    resolved = database_url(url)
    scheme = resolved.split(":", 1)[0].split("+", 1)[0].lower()
    store: ResultStore
    if scheme == "sqlite":
        from tcplab.store._sqlite import SqliteStore

        store = SqliteStore(resolved, create=create)
    elif scheme in ("postgresql", "postgres"):
        from tcplab.store._postgres import PostgresStore

        store = PostgresStore(resolved)
    else:
        raise UsageError(
            f"unsupported database URL {redact_url(resolved)!r}: "
            "use sqlite:///PATH or postgresql://USER@HOST:PORT/DB"
        )
    if migrate:
        try:
            store.migrate()
        except BaseException:
            store.close()
            raise
    return store
