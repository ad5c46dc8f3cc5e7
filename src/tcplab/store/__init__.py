"""Where results go: a SQL result store, an artifact store, and queries over both.

* :func:`open_store` → a :class:`ResultStore` (SQLite by default, PostgreSQL with psycopg 3),
  migrated with Alembic; :func:`sync_run` loads a run directory into it.
* :func:`open_artifacts` → an :class:`ArtifactStore` (directory or S3); :func:`push_run` and
  :func:`fetch_run` move runs with a SHA-256 manifest.
* :func:`query_runs` (SQL store) and :func:`run_sql` (DuckDB over a run's Parquet trials).

Optional packages (SQLAlchemy, Alembic, psycopg, boto3, DuckDB) are imported only when a
backend needs them; a missing one raises :class:`~tcplab.errors.MissingDependencyError`.
"""

from __future__ import annotations

from tcplab.store._artifacts import (
    ArtifactStore,
    LocalArtifactStore,
    S3ArtifactStore,
    open_artifacts,
)
from tcplab.store._base import MetricPoint, ResultStore, open_store
from tcplab.store._compute import REFERENCE_ARM, compute_results
from tcplab.store._config import artifacts_url, database_url, redact_url, require
from tcplab.store._errors import (
    ArtifactIntegrityError,
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
)
from tcplab.store._query import (
    DEFAULT_SQL_MEMORY,
    DEFAULT_SQL_TIMEOUT_S,
    QUERY_COLUMNS,
    query_runs,
    run_sql,
)
from tcplab.store._sync import SyncReport, resolve_run_dir, sync_run
from tcplab.store._transfer import MANIFEST, fetch_run, push_run

__all__ = [
    "DEFAULT_SQL_MEMORY",
    "DEFAULT_SQL_TIMEOUT_S",
    "MANIFEST",
    "QUERY_COLUMNS",
    "REFERENCE_ARM",
    "ArtifactIntegrityError",
    "ArtifactStore",
    "LocalArtifactStore",
    "MetricPoint",
    "ResultStore",
    "S3ArtifactStore",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
    "SyncReport",
    "artifacts_url",
    "compute_results",
    "database_url",
    "fetch_run",
    "open_artifacts",
    "open_store",
    "push_run",
    "query_runs",
    "redact_url",
    "require",
    "resolve_run_dir",
    "run_sql",
    "sync_run",
]
