"""The service's tables (SQLAlchemy Core): ``jobs``, ``api_tokens`` and ``job_logs``.

Created by the service's own Alembic chain (``tcplab/service/_migrations``, version table
``tcplab_service_version``), next to the store's tables in the same database.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

__all__ = ["VERSION_TABLE", "api_tokens", "job_logs", "jobs", "metadata"]

VERSION_TABLE = "tcplab_service_version"
metadata = sa.MetaData()


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


jobs = sa.Table(
    "jobs",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("client_key", sa.Text),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("spec", _json(), nullable=False),
    sa.Column("spec_hash", sa.Text, nullable=False),
    sa.Column("priority", sa.SmallInteger, nullable=False),
    sa.Column("priority_class", sa.Text, nullable=False),
    sa.Column("resources", _json(), nullable=False),
    sa.Column("constraints", _json(), nullable=False),
    sa.Column("backend", sa.Text, nullable=False),
    sa.Column("queue", sa.Text, nullable=False),
    sa.Column("submitted_by", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", _tz(), nullable=False),
    sa.Column("updated_at", _tz(), nullable=False),
    sa.Column("started_at", _tz()),
    sa.Column("finished_at", _tz()),
    sa.Column("heartbeat_at", _tz()),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("worker", sa.Text),
    sa.Column("cancel_requested_at", _tz()),
    sa.Column("cancel_requested_by", sa.Text),
    sa.Column("run_id", sa.Text),
    sa.Column("run_dir", sa.Text),
    sa.Column("run_status", sa.Text),
    sa.Column("n_tools", sa.Integer, nullable=False),
    sa.Column("n_trials", sa.BigInteger, nullable=False),
    sa.Column("arms", _json(), nullable=False),
    sa.Column("progress", _json()),
    sa.Column("queue_job_id", sa.BigInteger),
    sa.Column("execution_id", sa.Text),
    sa.UniqueConstraint("submitted_by", "client_key", name="uq_jobs_client_key"),
    sa.CheckConstraint(
        "state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
        name="ck_jobs_state",
    ),
    sa.CheckConstraint("priority BETWEEN 0 AND 10", name="ck_jobs_priority"),
)
sa.Index("ix_jobs_state_priority", jobs.c.state, jobs.c.priority, jobs.c.created_at)
sa.Index("ix_jobs_submitted_by", jobs.c.submitted_by, jobs.c.created_at)
sa.Index("ix_jobs_created_at", jobs.c.created_at)
sa.Index("ix_jobs_run_id", jobs.c.run_id)
# /metrics counts jobs per state and class, and finished jobs' durations, from these alone
sa.Index("ix_jobs_state_class", jobs.c.state, jobs.c.priority_class)
sa.Index(
    "ix_jobs_state_times",
    jobs.c.state,
    postgresql_include=["started_at", "finished_at"],
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("schema_version", sa.SmallInteger, nullable=False),
    sa.Column("username", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
    sa.Column("prefix", sa.Text, nullable=False),
    sa.Column("created_at", _tz(), nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("revoked_at", _tz()),
    sa.Column("last_used_at", _tz()),
    sa.CheckConstraint("role IN ('viewer', 'submitter', 'admin')", name="ck_api_tokens_role"),
)

#: the log lines a worker wrote while running a job (``tcplab jobs logs``), kept with the job
job_logs = sa.Table(
    "job_logs",
    metadata,
    sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("job_id", sa.Text, nullable=False),
    sa.Column("ts", _tz(), nullable=False),
    sa.Column("level", sa.Text, nullable=False),
    sa.Column("logger", sa.Text, nullable=False),
    sa.Column("worker", sa.Text, nullable=False),
    sa.Column("execution_id", sa.Text, nullable=False),
    sa.Column("message", sa.Text, nullable=False),
)
sa.Index("ix_job_logs_job_seq", job_logs.c.job_id, job_logs.c.seq)
