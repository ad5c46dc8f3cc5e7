"""Run the Alembic migrations shipped in ``tcplab/store/_migrations`` (no alembic.ini).

The Alembic ``Config`` is built in code; the SQLAlchemy connection is handed to ``env.py``
through ``config.attributes`` so the same engine (and PostgreSQL ``search_path``) is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.store._config import require

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["HEAD", "current_revision", "downgrade", "head_revision", "store_engine", "upgrade"]

HEAD = "head"
_SCRIPTS = Path(__file__).with_name("_migrations")


def _config(connection: Any) -> Any:
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine: Engine, revision: str = HEAD) -> None:
    """Migrate the database to ``revision`` (default: the newest)."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate the database down to ``revision`` (``base`` drops every table)."""
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    return rev


def head_revision() -> str:
    """The newest revision shipped with this tcplab."""
    require("alembic", "alembic", "sql", "database migrations")
    from alembic.script import ScriptDirectory

    cfg = _config(None)
    head = ScriptDirectory.from_config(cfg).get_current_head()
    return head or ""


def store_engine(store: object) -> Engine:
    """The SQLAlchemy engine of a SQL-backed result store.

    Raises:
        UsageError: the store is not SQL-backed.
    """
    from tcplab.errors import UsageError

    engine = getattr(store, "engine", None)
    if engine is None:
        raise UsageError(f"{store!r} has no SQL schema to migrate")
    return engine  # type: ignore[no-any-return]
