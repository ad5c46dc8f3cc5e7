"""Run the Alembic migrations shipped in ``tcplab/store/_migrations`` (no alembic.ini).

The Alembic ``Config`` is built in code; the SQLAlchemy connection is handed to ``env.py``
through ``config.attributes`` so the same engine (and PostgreSQL ``search_path``) is used.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.errors import StoreError, UsageError
from tcplab.store._config import require

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "HEAD",
    "all_revisions",
    "check_target",
    "current_revision",
    "downgrade",
    "head_revision",
    "known_revision",
    "require_current",
    "store_engine",
    "unknown_revision_error",
    "upgrade",
]

HEAD = "head"
_SCRIPTS = Path(__file__).with_name("_migrations")


def _config(connection: Any) -> Any:
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def _script() -> Any:
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(None))


def known_revision(revision: str | None) -> bool:
    """True for None (an empty database) and the revisions this tcplab ships."""
    if revision is None:
        return True
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    try:
        return _script().get_revision(revision) is not None
    except (CommandError, RevisionError):
        return False


def check_target(revision: str, action: str = "upgrade") -> None:
    """UsageError for a target revision that is neither a shipped one, ``head``, ``base``
    nor relative (``-1``, ``+1``): checked before a database is opened or created."""
    if revision in ("head", "heads", "base") or "+" in revision or "-" in revision:
        return
    if not known_revision(revision):
        raise UsageError(
            f"cannot {action} to revision {revision!r}: this tcplab ships no such revision "
            f"(revisions: base, {', '.join(all_revisions())}, head)"
        )


def unknown_revision_error(engine: Engine, revision: str) -> StoreError:
    """The error for a database stamped with a revision this tcplab does not ship."""
    where = engine.url.render_as_string(hide_password=True)
    return StoreError(
        f"database {where} is at schema revision {revision!r}, which this tcplab does not "
        f"know (it ships up to {head_revision()}); it was probably written by a newer tcplab: "
        "upgrade tcplab, or use another database"
    )


# Alembic's command layer keeps module-level state (the script directory's imported migration
# modules), so two threads migrating at once fail with a KeyError (seen: a service worker with
# --concurrency 2 opening two stores together). One migration at a time per process.
_MIGRATE_LOCK = threading.Lock()


def _run(engine: Engine, action: str, revision: str) -> None:
    """Run ``alembic <action> <revision>`` with one-line errors for unknown revisions."""
    with _MIGRATE_LOCK:
        _run_locked(engine, action, revision)


def _run_locked(engine: Engine, action: str, revision: str) -> None:
    from alembic import command
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    current = current_revision(engine)
    if not known_revision(current):
        raise unknown_revision_error(engine, str(current))
    try:
        with engine.begin() as conn:
            getattr(command, action)(_config(conn), revision)
    except (CommandError, RevisionError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise UsageError(
            f"cannot {action} to revision {revision!r}: {first} "
            f"(revisions: base, {', '.join(all_revisions())}, head)"
        ) from exc


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Migrate the database to ``revision`` (default: the newest).

    Raises:
        UsageError: ``revision`` is not a valid target.
        StoreError: the database is at a revision this tcplab does not know.
    """
    _run(engine, "upgrade", revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` drops every table).

    Raises:
        UsageError: ``revision`` is not a valid target.
        StoreError: the database is at a revision this tcplab does not know.
    """
    _run(engine, "downgrade", revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    return rev


def head_revision() -> str:
    """The newest revision shipped with this tcplab."""
    return str(_script().get_current_head() or "")


def all_revisions() -> list[str]:
    """Every revision shipped with this tcplab, oldest first."""
    return [str(r.revision) for r in reversed(list(_script().walk_revisions()))]


def require_current(engine: Engine) -> None:
    """StoreError unless the database is at the newest revision (read-only callers: they
    neither create tables nor migrate)."""
    rev = current_revision(engine)
    where = engine.url.render_as_string(hide_password=True)
    if rev is None:
        raise StoreError(
            f"database {where} holds no tcplab tables (an empty database; nothing was "
            "created); load a run with `tcplab runs sync RUN`, or check --db"
        )
    if not known_revision(rev):
        raise unknown_revision_error(engine, rev)
    head = head_revision()
    if rev != head:
        raise StoreError(
            f"database {where} is at schema revision {rev}, older than {head}; "
            "run `tcplab db upgrade` first"
        )


def store_engine(store: object) -> Engine:
    """The SQLAlchemy engine of a SQL-backed result store.

    Raises:
        UsageError: the store is not SQL-backed.
    """
    engine = getattr(store, "engine", None)
    if engine is None:
        raise UsageError(f"{store!r} has no SQL schema to migrate")
    return engine  # type: ignore[no-any-return]
