"""Schema migrations of the result store (Alembic), the public entry point for the CLI.

Importing it loads nothing heavy; each function imports SQLAlchemy and Alembic when called
(``pip install 'tcplab[sql]'``).
"""

from __future__ import annotations

from tcplab.store._migrate import (
    HEAD,
    all_revisions,
    check_target,
    current_revision,
    downgrade,
    head_revision,
    known_revision,
    require_current,
    store_engine,
    unknown_revision_error,
    upgrade,
)

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
