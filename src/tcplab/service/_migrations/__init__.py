"""Alembic migrations of the service's tables (its own chain and version table)."""
