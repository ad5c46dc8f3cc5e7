"""Trial schema version 2: nullable ``confidence`` and ``label_decision`` columns.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the two columns of TRIAL_SCHEMA_VERSION 2 (rows stored before read them as null)."""
    with op.batch_alter_table("trials") as batch:
        batch.add_column(sa.Column("confidence", sa.Float(53), nullable=True))
        batch.add_column(sa.Column("label_decision", sa.Text, nullable=True))


def downgrade() -> None:
    """Drop them again."""
    with op.batch_alter_table("trials") as batch:
        batch.drop_column("label_decision")
        batch.drop_column("confidence")
