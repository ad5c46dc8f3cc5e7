"""Alembic migrations up and down on SQLite and PostgreSQL; models match the migrations."""

from __future__ import annotations

from typing import Any

import pytest

from tcplab.experiment.trials import TRIAL_COLUMNS
from tcplab.store import open_store
from tcplab.store._migrate import current_revision, downgrade, head_revision, store_engine, upgrade

TABLES = {"runs", "shards", "trials", "results", "run_metrics"}


def _tables(engine: Any) -> set[str]:
    import sqlalchemy as sa

    return set(sa.inspect(engine).get_table_names()) & TABLES


def test_up_down_up(db_url: str) -> None:
    with open_store(db_url, migrate=False) as store:
        engine = store_engine(store)
        assert current_revision(engine) is None and _tables(engine) == set()
        upgrade(engine)
        assert current_revision(engine) == head_revision() == "0002"
        assert _tables(engine) == TABLES
        upgrade(engine)  # idempotent
        downgrade(engine, "base")
        assert current_revision(engine) is None and _tables(engine) == set()
        upgrade(engine)
        assert _tables(engine) == TABLES


def test_models_match_migrated_schema(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from tcplab.store._models import TRIAL_SQL_COLUMNS, Base

    assert tuple(name for name, _ in TRIAL_SQL_COLUMNS) == TRIAL_COLUMNS
    with open_store(db_url) as store, store_engine(store).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(ctx, Base.metadata)
    # partitions of run_metrics are created by the migration / on demand, not by the models
    skip = ("alembic_version", "run_metrics_default", "run_metrics_y")
    diffs = [d for d in diffs if not any(s in str(d) for s in skip)]
    assert diffs == []


def test_postgres_metrics_table_is_partitioned(pg_url: str) -> None:
    import sqlalchemy as sa

    with open_store(pg_url) as store, store_engine(store).connect() as conn:
        kind = conn.execute(
            sa.text("SELECT relkind FROM pg_class WHERE oid = 'run_metrics'::regclass")
        )
        assert kind.scalar_one() == "p"
        strategy = conn.execute(
            sa.text(
                "SELECT partstrat FROM pg_partitioned_table "
                "WHERE partrelid = 'run_metrics'::regclass"
            )
        )
        assert strategy.scalar_one() == "r"
        default = conn.execute(
            sa.text(
                "SELECT partdefid::regclass::text FROM pg_partitioned_table "
                "WHERE partrelid = 'run_metrics'::regclass"
            )
        )
        assert default.scalar_one() == "run_metrics_default"


@pytest.mark.parametrize(
    "index", ["ix_runs_type", "ix_runs_status", "ix_runs_started_at", "ix_results_tool"]
)
def test_query_indexes_exist(sqlite_url: str, index: str) -> None:
    import sqlalchemy as sa

    with open_store(sqlite_url) as store:
        insp = sa.inspect(store_engine(store))
        names = {ix["name"] for t in ("runs", "results") for ix in insp.get_indexes(t)}
    assert index in names
