"""Service tables: jobs, api_tokens.

Revision ID: s0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "s0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _text(*names: str, nullable: bool = True) -> list[sa.Column[Any]]:
    return [sa.Column(n, sa.Text, nullable=nullable) for n in names]


def upgrade() -> None:
    """Create ``jobs`` and ``api_tokens`` with their indexes."""
    op.create_table(
        "jobs",
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
        *_text("backend", "queue", "submitted_by", "state", nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("updated_at", _tz(), nullable=False),
        *(sa.Column(n, _tz()) for n in ("started_at", "finished_at", "heartbeat_at")),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("worker", sa.Text),
        sa.Column("cancel_requested_at", _tz()),
        *_text("cancel_requested_by", "run_id", "run_dir", "run_status"),
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
    op.create_index("ix_jobs_state_priority", "jobs", ["state", "priority", "created_at"])
    op.create_index("ix_jobs_submitted_by", "jobs", ["submitted_by", "created_at"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_index("ix_jobs_run_id", "jobs", ["run_id"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("schema_version", sa.SmallInteger, nullable=False),
        *_text("username", "role", "name", nullable=False),
        sa.Column("token_sha256", sa.Text, nullable=False, unique=True),
        *_text("prefix", nullable=False),
        sa.Column("created_at", _tz(), nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("revoked_at", _tz()),
        sa.Column("last_used_at", _tz()),
        sa.CheckConstraint("role IN ('viewer', 'submitter', 'admin')", name="ck_api_tokens_role"),
    )


def downgrade() -> None:
    """Drop both tables (and every job and token in them)."""
    op.drop_table("api_tokens")
    for name in ("ix_jobs_run_id", "ix_jobs_created_at", "ix_jobs_submitted_by"):
        op.drop_index(name, table_name="jobs")
    op.drop_index("ix_jobs_state_priority", table_name="jobs")
    op.drop_table("jobs")
