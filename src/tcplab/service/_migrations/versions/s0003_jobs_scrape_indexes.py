"""Indexes that let /metrics count jobs without reading the jobs' rows (index-only scans).

Revision ID: s0003
Revises: s0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "s0003"
down_revision = "s0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Jobs per state and priority class; finished jobs' start and end times."""
    op.create_index("ix_jobs_state_class", "jobs", ["state", "priority_class"])
    op.create_index(
        "ix_jobs_state_times",
        "jobs",
        ["state"],
        postgresql_include=["started_at", "finished_at"],
    )


def downgrade() -> None:
    """Drop both."""
    op.drop_index("ix_jobs_state_times", table_name="jobs")
    op.drop_index("ix_jobs_state_class", table_name="jobs")
