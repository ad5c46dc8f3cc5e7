"""SQLAlchemy 2 models of the result store (imported only when a SQL backend is used).

Tables: ``runs`` (one row per run, the run.json fields plus the whole document),
``shards`` (which shards were loaded), ``trials`` (one row per trial, every
:data:`~tcplab.experiment.trials.TRIAL_SCHEMA` column), ``results`` (per-tool per-arm
aggregates) and ``run_metrics`` (a time series; on PostgreSQL partitioned by month of ``ts``).
The migrations in ``_migrations/versions`` create exactly these tables.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "TRIAL_SQL_COLUMNS",
    "Base",
    "Result",
    "Run",
    "RunMetric",
    "Shard",
    "json_type",
    "metrics_table",
    "results_table",
    "runs_table",
    "shards_table",
    "trials_table",
]


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on SQLite (text), JSONB on PostgreSQL."""
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base; ``Base.metadata`` holds every table of the store."""


class Run(Base):
    """One experiment run (``run.json``)."""

    __tablename__ = "runs"
    __table_args__ = (
        sa.Index("ix_runs_type", "type"),
        sa.Index("ix_runs_status", "status"),
        sa.Index("ix_runs_started_at", "started_at"),
        sa.Index("ix_runs_name", "name"),
    )

    id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    name: Mapped[str | None] = mapped_column(sa.Text)
    type: Mapped[str | None] = mapped_column(sa.Text)
    description: Mapped[str | None] = mapped_column(sa.Text)
    spec: Mapped[Any] = mapped_column(json_type(), nullable=True)
    status: Mapped[str | None] = mapped_column(sa.Text)
    created_by: Mapped[str | None] = mapped_column(sa.Text)
    tags: Mapped[Any] = mapped_column(json_type(), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    plan_hash: Mapped[str | None] = mapped_column(sa.Text)
    spec_hash: Mapped[str | None] = mapped_column(sa.Text)
    seed: Mapped[int | None] = mapped_column(sa.BigInteger)
    n_trials: Mapped[int | None] = mapped_column(sa.BigInteger)
    n_shards: Mapped[int | None] = mapped_column(sa.Integer)
    meta: Mapped[Any] = mapped_column("metadata", json_type(), nullable=True)
    updated_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Shard(Base):
    """One shard of a run's trials as loaded into ``trials``."""

    __tablename__ = "shards"

    run_id: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    shard: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    status: Mapped[str] = mapped_column(sa.Text)
    n_trials: Mapped[int] = mapped_column(sa.BigInteger)
    written_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))


class Result(Base):
    """Per-tool per-arm aggregates of a run (see :func:`tcplab.store.compute_results`)."""

    __tablename__ = "results"
    __table_args__ = (
        sa.Index("ix_results_tool", "tool"),
        sa.Index("ix_results_arm", "arm"),
    )

    run_id: Mapped[str] = mapped_column(
        sa.Text, sa.ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True
    )
    tool: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    arm: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    n: Mapped[int] = mapped_column(sa.BigInteger)
    latency_mean_ns: Mapped[float | None] = mapped_column(sa.Float(53))
    latency_p50_ns: Mapped[float | None] = mapped_column(sa.Float(53))
    latency_p99_ns: Mapped[float | None] = mapped_column(sa.Float(53))
    accuracy: Mapped[float | None] = mapped_column(sa.Float(53))
    speed_ratio: Mapped[float | None] = mapped_column(sa.Float(53))
    reference_arm: Mapped[str | None] = mapped_column(sa.Text)
    meta: Mapped[Any] = mapped_column("metadata", json_type(), nullable=True)


class RunMetric(Base):
    """One point of a run's metric time series; ``labels_key`` is a hash of ``labels``."""

    __tablename__ = "run_metrics"
    __table_args__ = (
        sa.Index("ix_run_metrics_name_ts", "name", "ts"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    run_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    ts: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), primary_key=True)
    name: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    labels_key: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    value: Mapped[float] = mapped_column(sa.Float(53))
    labels: Mapped[Any] = mapped_column(json_type(), nullable=True)


_T: dict[str, Callable[[], sa.types.TypeEngine[Any]]] = {
    "i16": sa.SmallInteger,
    "i32": sa.Integer,
    "i64": sa.BigInteger,
    "str": sa.Text,
    "bool": sa.Boolean,
    "f64": lambda: sa.Float(53),
    "list": json_type,
}
#: Every trial column with its SQL kind, in TRIAL_SCHEMA order (a test checks they match).
TRIAL_SQL_COLUMNS: tuple[tuple[str, str], ...] = (
    *(("schema_version", "i16"), ("descriptor_format_version", "i16")),
    *(("run_id", "str"), ("shard", "i32"), ("seq", "i64"), ("tool", "str"), ("arm", "str")),
    *(("analyzer", "str"), ("iteration", "i32"), ("status", "str"), ("predicted_risk", "str")),
    *(("predicted_capabilities", "list"), ("decision", "str"), ("label", "str")),
    *(("label_capabilities", "list"), ("correct", "bool"), ("timing_mode", "str")),
    *(("latency_ns", "i64"), ("queue_wait_ns", "i64"), ("backoff_wait_ns", "i64")),
    *(("ttft_ns", "i64"), ("service_ns", "i64"), ("total_ns", "i64"), ("batch_ns", "i64")),
    *(("batch_size", "i64"), ("clock_overhead_ns", "f64"), ("cache_hit", "bool")),
    *(("cache_original_latency_ns", "i64"), ("prompt_tokens", "i64")),
    *(("completion_tokens", "i64"), ("cost_usd", "f64"), ("attempts", "i32")),
    *(("model_id", "str"), ("model_version", "str"), ("error", "str"), ("explanation", "str")),
    *(("worker", "str"), ("host", "str"), ("pid", "i32")),
    *(("started_at_ns", "i64"), ("finished_at_ns", "i64")),
    *(("confidence", "f64"), ("label_decision", "str")),
)
_KEY = ("run_id", "shard", "seq")

trials_table = sa.Table(
    "trials",
    Base.metadata,
    *(
        sa.Column(name, _T[kind](), primary_key=name in _KEY, nullable=name not in _KEY)
        for name, kind in TRIAL_SQL_COLUMNS
    ),
    sa.Index("ix_trials_run_tool", "run_id", "tool"),
)

runs_table = cast(sa.Table, Run.__table__)
shards_table = cast(sa.Table, Shard.__table__)
results_table = cast(sa.Table, Result.__table__)
metrics_table = cast(sa.Table, RunMetric.__table__)
