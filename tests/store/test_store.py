"""The result store on SQLite and on the machine's PostgreSQL (same tests for both)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tcplab.errors import UsageError
from tcplab.experiment.trials import read_trials
from tcplab.store import (
    StorePermissionError,
    StoreUnavailableError,
    open_store,
    query_runs,
    sync_run,
)

from ._runs import make_run, run_meta, trial_table


def _count(store: Any, sql: str, **params: Any) -> int:
    import sqlalchemy as sa

    with store.engine.connect() as conn:
        return int(conn.execute(sa.text(sql), params).scalar_one())


def _normal(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        row = dict(row)
        for key in ("predicted_capabilities", "label_capabilities"):
            if isinstance(row[key], str):
                row[key] = json.loads(row[key])
        for key, value in row.items():
            if isinstance(value, float) and key != "clock_overhead_ns":
                row[key] = round(value, 9)
        out.append(row)
    return out


def test_sync_twice_leaves_no_duplicates(db_url: str, isolated_home: Path) -> None:
    run_dir = make_run(isolated_home, "run-sync", shards=3, per_shard=90)
    with open_store(db_url) as store:
        first = sync_run(run_dir, store)
        second = sync_run("run-sync", store)  # by id, under TCPLAB_HOME/runs
        assert first == second
        assert (first.shards, first.trials, first.results) == (3, 270, 12)
        assert _count(store, "SELECT count(*) FROM runs") == 1
        assert _count(store, "SELECT count(*) FROM trials") == 270
        assert _count(store, "SELECT count(*) FROM shards WHERE status = 'loaded'") == 3
        assert _count(store, "SELECT count(*) FROM results") == 12


def test_trials_round_trip_every_column(db_url: str, isolated_home: Path) -> None:
    import sqlalchemy as sa

    from tcplab.store._models import trials_table

    run_dir = make_run(isolated_home, "run-rt", shards=2, per_shard=200)
    table = read_trials(run_dir)
    # values that need escaping in CSV / JSON, empty strings vs nulls, an empty list
    odd = trial_table("run-rt", 9, 3, start_seq=10_000).to_pylist()
    odd[0]["predicted_capabilities"] = ['quote"d', "back\\slash", "comma,x", "nl\nx"]
    odd[1]["explanation"], odd[2]["explanation"] = "", None
    odd[2]["label_capabilities"] = []
    odd_table = pa.Table.from_pylist(odd, schema=table.schema)
    with open_store(db_url) as store:
        sync_run(run_dir, store)
        assert store.write_trials("run-rt", 9, odd_table) == 3
        stmt = sa.select(trials_table).order_by(trials_table.c.shard, trials_table.c.seq)
        with store.engine.connect() as conn:
            got = [dict(r._mapping) for r in conn.execute(stmt)]
    want = pa.concat_tables([table, odd_table]).to_pylist()
    assert _normal(got) == _normal(want)


def test_write_trials_is_idempotent_per_key(db_url: str) -> None:
    with open_store(db_url) as store:
        store.upsert_run(run_meta("run-idem"))
        assert store.write_trials("run-idem", 0, trial_table("run-idem", 0, 100)) == 100
        # the same shard again, now with 50 more rows: the first 100 are kept, 50 added
        assert store.write_trials("run-idem", 0, trial_table("run-idem", 0, 150)) == 150
        store.mark_shard("run-idem", 0, "loaded", 150)
        store.mark_shard("run-idem", 0, "loaded", 150)
        assert _count(store, "SELECT count(*) FROM trials") == 150
        assert _count(store, "SELECT count(DISTINCT seq) FROM trials") == 150
        assert _count(store, "SELECT count(*) FROM shards") == 1
        with pytest.raises(UsageError, match="another run or shard"):
            store.write_trials("run-idem", 1, trial_table("run-idem", 0, 5))
        with pytest.raises(UsageError, match="lacks column"):
            store.write_trials("run-idem", 0, pa.table({"seq": [1]}))


def test_upsert_run_results_and_metrics(db_url: str) -> None:
    with open_store(db_url) as store:
        store.upsert_run(run_meta("run-up", status="running", finished_at=None))
        store.upsert_run(run_meta("run-up", status="completed"))
        assert _count(store, "SELECT count(*) FROM runs WHERE status = 'completed'") == 1
        row = {"tool": "rm", "arm": "tcp", "n": 3, "accuracy": 0.5, "metadata": {"k": 1}}
        store.write_results("run-up", [row])
        store.write_results("run-up", [row | {"accuracy": 1.0}])
        assert _count(store, "SELECT count(*) FROM results WHERE accuracy = 1.0") == 1
        nov, dec = datetime(2026, 11, 3, tzinfo=UTC), datetime(2026, 12, 31, 23, 59, tzinfo=UTC)
        points = [
            (nov, "rps", 1.0, {"w": "a"}),
            (nov, "rps", 2.0, {"w": "b"}),
            (dec, "rps", 3.0, {}),
        ]
        store.write_metrics("run-up", points)
        store.write_metrics("run-up", [(nov, "rps", 5.0, {"w": "a"})])  # replaces a value
        assert _count(store, "SELECT count(*) FROM run_metrics") == 3
        assert _count(store, "SELECT sum(value) FROM run_metrics") == 10
        if store.backend == "postgresql":
            parts = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'run_metrics'::regclass"
            assert _count(store, parts) == 3  # default + 2026-11 + 2026-12
            in_nov = "SELECT count(*) FROM run_metrics_y2026m11"
            assert _count(store, in_nov) == 2
            assert _count(store, "SELECT count(*) FROM run_metrics_default") == 0


def test_query_filters_bind_parameters(db_url: str, isolated_home: Path) -> None:
    make_run(isolated_home, "run-q1", started_at="2026-10-01T00:00:00Z")
    make_run(isolated_home, "run-q2", status="failed", type="calibration")
    with open_store(db_url) as store:
        sync_run("run-q1", store)
        sync_run("run-q2", store)
        assert len(query_runs(store)) == 24
        assert {r["run_id"] for r in query_runs(store, status="failed")} == {"run-q2"}
        assert {r["run_id"] for r in query_runs(store, type="experiment")} == {"run-q1"}
        assert {r["run_id"] for r in query_runs(store, since="2026-11-01")} == {"run-q2"}
        rows = query_runs(store, tool="rm", arm="tcp")
        assert [(r["tool"], r["arm"]) for r in rows] == [("rm", "tcp")] * 2
        assert rows[0]["run_id"] == "run-q2"  # newest first
        evil = "rm' OR '1'='1'; DROP TABLE runs; --"
        assert query_runs(store, tool=evil) == []
        assert _count(store, "SELECT count(*) FROM runs") == 2


def test_unreachable_database_raises_store_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("sqlalchemy")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreUnavailableError, match="cannot connect to database"):
        open_store(f"sqlite:///{blocker}/sub/x.sqlite")
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1:1"):
        open_store("postgresql://postgres:secret@127.0.0.1:1/test")
    with pytest.raises(UsageError, match="unsupported database URL"):
        open_store("mysql://x@y/z")


def test_unknown_role_is_refused(pg_url: str) -> None:
    bad = pg_url.replace("tcplab:tcplab@", "no_such_role_tcplab:x@", 1)
    with pytest.raises(StorePermissionError, match="refused access") as info:
        open_store(bad)
    assert isinstance(info.value, StoreUnavailableError)  # the engine keeps going on both


def test_concurrent_writers_of_one_shard(pg_url: str) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with open_store(pg_url) as store:
        store.upsert_run(run_meta("run-conc"))
        tables = [trial_table("run-conc", 0, 3000, seed=s) for s in range(4)]
        with ThreadPoolExecutor(4) as pool:
            done = list(pool.map(lambda t: store.write_trials("run-conc", 0, t), tables))
        assert done == [3000] * 4
        assert _count(store, "SELECT count(*) FROM trials") == 3000
