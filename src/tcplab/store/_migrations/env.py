"""Alembic environment: runs on the connection handed in by :mod:`tcplab.store._migrate`."""

from __future__ import annotations

from alembic import context

from tcplab.store._models import Base

_LOCK_ID = 0x7C9_1AB  # pg_advisory_xact_lock key: one migrator at a time per database

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("tcplab migrations run through `tcplab db upgrade`, not the alembic CLI")

context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
    context.run_migrations()
