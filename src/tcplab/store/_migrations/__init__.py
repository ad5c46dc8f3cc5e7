"""Alembic migrations of the result store, configured in code (no alembic.ini).

See :mod:`tcplab.store._migrate` for the functions that run them.
"""
