"""Initial schema: runs, shards, trials, results, run_metrics.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


_KINDS: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "i16": sa.SmallInteger,
    "i32": sa.Integer,
    "i64": sa.BigInteger,
    "str": sa.Text,
    "bool": sa.Boolean,
    "f64": lambda: sa.Float(53),
    "list": _json,
}
# Frozen copy of the trial columns at schema version 0001 (TRIAL_SCHEMA_VERSION 1).
_TRIALS = (
    "schema_version:i16 descriptor_format_version:i16 run_id:str shard:i32 seq:i64 tool:str "
    "arm:str analyzer:str iteration:i32 status:str predicted_risk:str "
    "predicted_capabilities:list decision:str label:str label_capabilities:list correct:bool "
    "timing_mode:str latency_ns:i64 queue_wait_ns:i64 backoff_wait_ns:i64 ttft_ns:i64 "
    "service_ns:i64 total_ns:i64 batch_ns:i64 batch_size:i64 clock_overhead_ns:f64 "
    "cache_hit:bool cache_original_latency_ns:i64 prompt_tokens:i64 completion_tokens:i64 "
    "cost_usd:f64 attempts:i32 model_id:str model_version:str error:str explanation:str "
    "worker:str host:str pid:i32 started_at_ns:i64 finished_at_ns:i64"
)
_KEY = ("run_id", "shard", "seq")


def upgrade() -> None:
    """Create every table and index; on PostgreSQL run_metrics is range-partitioned by ts."""
    op.create_table(
        "runs",
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(c, sa.Text) for c in ("name", "type", "description")),
        sa.Column("spec", _json()),
        *(sa.Column(c, sa.Text) for c in ("status", "created_by")),
        sa.Column("tags", _json()),
        sa.Column("started_at", _tz()),
        sa.Column("finished_at", _tz()),
        *(sa.Column(c, sa.Text) for c in ("plan_hash", "spec_hash")),
        sa.Column("seed", sa.BigInteger),
        sa.Column("n_trials", sa.BigInteger),
        sa.Column("n_shards", sa.Integer),
        sa.Column("metadata", _json()),
        sa.Column("updated_at", _tz()),
    )
    for col in ("type", "status", "started_at", "name"):
        op.create_index(f"ix_runs_{col}", "runs", [col])
    op.create_table(
        "shards",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("shard", sa.Integer),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("n_trials", sa.BigInteger, nullable=False),
        sa.Column("written_at", _tz()),
        sa.PrimaryKeyConstraint("run_id", "shard"),
    )
    cols = [item.split(":") for item in _TRIALS.split()]
    op.create_table(
        "trials",
        *(sa.Column(n, _KINDS[k](), nullable=n not in _KEY) for n, k in cols),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    op.create_index("ix_trials_run_tool", "trials", ["run_id", "tool"])
    op.create_table(
        "results",
        sa.Column("run_id", sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE")),
        sa.Column("tool", sa.Text),
        sa.Column("arm", sa.Text),
        sa.Column("n", sa.BigInteger, nullable=False),
        *(sa.Column(f"latency_{s}_ns", sa.Float(53)) for s in ("mean", "p50", "p99")),
        sa.Column("accuracy", sa.Float(53)),
        sa.Column("speed_ratio", sa.Float(53)),
        sa.Column("reference_arm", sa.Text),
        sa.Column("metadata", _json()),
        sa.PrimaryKeyConstraint("run_id", "tool", "arm"),
    )
    op.create_index("ix_results_tool", "results", ["tool"])
    op.create_index("ix_results_arm", "results", ["arm"])
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.Text),
        sa.Column("ts", _tz()),
        sa.Column("name", sa.Text),
        sa.Column("labels_key", sa.Text),
        sa.Column("value", sa.Float(53), nullable=False),
        sa.Column("labels", _json()),
        sa.PrimaryKeyConstraint("run_id", "ts", "name", "labels_key"),
        postgresql_partition_by="RANGE (ts)",
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TABLE run_metrics_default PARTITION OF run_metrics DEFAULT")
    op.create_index("ix_run_metrics_name_ts", "run_metrics", ["name", "ts"])


def downgrade() -> None:
    """Drop every table (partitions go with their parent)."""
    for table in ("run_metrics", "results", "trials", "shards", "runs"):
        op.drop_table(table)
