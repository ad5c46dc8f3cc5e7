"""The service's database: one SQLAlchemy engine, migrations, the queue's schema, readiness.

``migrate()`` brings the service's Alembic chain to its head and applies procrastinate's
schema (``procrastinate_*`` tables and functions) when it is missing, both under PostgreSQL
advisory locks so any number of servers and workers may start at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tcplab.errors import StoreError, StoreUnavailableError
from tcplab.store import redact_url, require

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["ServiceDB", "psycopg_conninfo", "require_service_deps"]

_SCRIPTS = Path(__file__).with_name("_migrations")
_QUEUE_LOCK_ID = 0x7C9_1AD  # pg_advisory_xact_lock key: one queue-schema installer at a time
T = TypeVar("T")


def require_service_deps(feature: str = "the experiment service") -> None:
    """Raise MissingDependencyError naming ``tcplab[service]`` unless its packages import."""
    for module, package in (
        ("sqlalchemy", "sqlalchemy"),
        ("alembic", "alembic"),
        ("psycopg", "psycopg"),
        ("procrastinate", "procrastinate"),
    ):
        require(module, package, "service", feature)


def psycopg_conninfo(url: str) -> str:
    """A libpq URI from a SQLAlchemy URL (``postgresql+psycopg://`` → ``postgresql://``)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql{sep}{rest}" if scheme.startswith("postgres") else url


class ServiceDB:
    """The engine of the service's database and the operations on its schema.

    Two pools on the same database: :meth:`begin` (transactions; every checkout pings the
    server first, so a restarted database costs no failed write) and :meth:`read` (one
    statement in autocommit, no ping, no BEGIN/COMMIT: one round trip per read; a connection
    found dead is replaced and the read run once more). The read pool is created on first use.
    """

    def __init__(self, url: str, *, pool_size: int = 4) -> None:
        require_service_deps()

        self.url = url
        self.where = redact_url(url)
        self.pool_size = pool_size
        self.engine: Engine = self._engine(pre_ping=True)
        self._reader: Engine | None = None

    def _engine(self, *, pre_ping: bool, **options: Any) -> Engine:
        import sqlalchemy as sa

        return sa.create_engine(
            "postgresql+psycopg://" + psycopg_conninfo(self.url).partition("://")[2],
            pool_size=self.pool_size,
            max_overflow=self.pool_size,
            pool_pre_ping=pre_ping,
            connect_args={"connect_timeout": 5},
            **options,
        )

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

    def read(self, fn: Callable[[Connection], T]) -> T:
        """``fn(connection)`` on an autocommit connection (give it one statement: a statement
        is its own consistent snapshot). Run once more when the connection was found dead (a
        restarted server); other failures of the connection raise
        :class:`StoreUnavailableError`."""
        import sqlalchemy.exc as sa_exc

        if self._reader is None:
            self._reader = self._engine(pre_ping=False, isolation_level="AUTOCOMMIT")
        for attempt in (1, 2):
            try:
                with self._reader.connect() as conn:
                    return fn(conn)
            except sa_exc.DBAPIError as exc:
                if exc.connection_invalidated and attempt == 1:
                    continue
                if exc.connection_invalidated or isinstance(
                    exc, sa_exc.OperationalError | sa_exc.InterfaceError
                ):
                    raise self.unavailable(exc) from exc
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def unavailable(self, exc: BaseException) -> StoreUnavailableError:
        """A one-line error for a database that cannot be used."""
        text = str(getattr(exc, "orig", None) or exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        return StoreUnavailableError(f"database {self.where} cannot be used: {first}")

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection in a transaction (committed on success); driver failures of the
        connection itself become :class:`StoreUnavailableError`."""
        import sqlalchemy.exc as sa_exc

        try:
            with self.engine.begin() as conn:
                yield conn
        except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
            raise self.unavailable(exc) from exc

    def _alembic_config(self, connection: Any) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_SCRIPTS))
        cfg.attributes["connection"] = connection
        return cfg

    def migrate(self) -> None:
        """Service tables to the newest revision, then the queue's schema if missing."""
        from alembic import command

        with self.begin() as conn:
            command.upgrade(self._alembic_config(conn), "head")
        with self.begin() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_QUEUE_LOCK_ID})")
            present = conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
            if present is None:
                from procrastinate.schema import SchemaManager

                raw = conn.connection.driver_connection
                assert raw is not None
                raw.execute(SchemaManager.get_schema())

    def current_revision(self) -> str | None:
        """The service chain's revision in the database (None: not migrated)."""
        from alembic.runtime.migration import MigrationContext

        from tcplab.service._tables import VERSION_TABLE

        with self.begin() as conn:
            ctx = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
            rev: str | None = ctx.get_current_revision()
            return rev

    def head_revision(self) -> str:
        """The newest revision this tcplab ships."""
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self._alembic_config(None)).get_current_head()
        assert head is not None
        return head

    def readiness(self) -> list[str]:
        """Problems that keep the service from working (empty when ready)."""
        try:
            rev = self.current_revision()
            with self.begin() as conn:
                queue = conn.exec_driver_sql("SELECT to_regclass('procrastinate_jobs')").scalar()
        except StoreError as exc:
            return [str(exc)]
        problems = []
        if rev != self.head_revision():
            problems.append(f"service tables at revision {rev}, not {self.head_revision()}")
        if queue is None:
            problems.append("the queue's tables (procrastinate) are missing")
        return problems
