"""Service table job_logs: the worker's log lines of each job.

Revision ID: s0002
Revises: s0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "s0002"
down_revision = "s0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``job_logs`` and its (job, seq) index."""
    op.create_table(
        "job_logs",
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("job_id", sa.Text, nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        *(sa.Column(n, sa.Text, nullable=False) for n in ("level", "logger", "worker")),
        sa.Column("execution_id", sa.Text, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_job_logs_job_seq", "job_logs", ["job_id", "seq"])


def downgrade() -> None:
    """Drop ``job_logs``."""
    op.drop_index("ix_job_logs_job_seq", table_name="job_logs")
    op.drop_table("job_logs")
