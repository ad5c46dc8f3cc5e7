"""``run_sql``: read-only DuckDB over a run's Parquet trials."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.errors import UsageError
from tcplab.store import run_sql

from ._runs import make_run
from .conftest import need_module


@pytest.fixture
def run_dir(isolated_home: Path) -> Path:
    need_module("duckdb")
    return make_run(isolated_home, "run-sql", shards=2, per_shard=60)


def test_select_over_trials_view(run_dir: Path) -> None:
    cols, rows = run_sql(
        "WITH t AS (SELECT arm, latency_ns FROM trials) "
        "SELECT arm, count(*) AS n FROM t GROUP BY arm ORDER BY arm",
        run_dir,
    )
    assert cols == ["arm", "n"]
    assert rows == [("llm", 40), ("rules", 40), ("tcp", 40)]


@pytest.mark.parametrize(
    "sql",
    [
        "DELETE FROM trials",
        "CREATE TABLE x AS SELECT * FROM trials",
        "SELECT 1; DROP VIEW trials",
        "ATTACH 'evil.db' AS evil",
        "COPY (SELECT * FROM trials) TO 'out.csv'",
        "PRAGMA enable_external_access",
    ],
)
def test_refuses_anything_but_one_select(run_dir: Path, sql: str) -> None:
    with pytest.raises(UsageError, match="exactly one read-only SELECT"):
        run_sql(sql, run_dir)


def test_select_cannot_read_other_files(run_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    with pytest.raises(UsageError, match="SQL failed"):
        run_sql(f"SELECT * FROM read_csv('{secret}')", run_dir)
    with pytest.raises(UsageError, match="SQL failed"):
        run_sql("SELECT * FROM no_such_table", run_dir)
