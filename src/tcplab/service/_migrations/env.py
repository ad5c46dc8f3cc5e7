"""Alembic environment of the service chain: runs on the connection handed in by
:mod:`tcplab.service._schema`, version table ``tcplab_service_version``."""

from __future__ import annotations

from alembic import context

from tcplab.service._tables import VERSION_TABLE, metadata

_LOCK_ID = 0x7C9_1AC  # pg_advisory_xact_lock key: one service migrator at a time

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through the alembic CLI
    raise RuntimeError("service migrations run through tcplab, not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_LOCK_ID})")
    context.run_migrations()
