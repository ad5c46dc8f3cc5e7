"""Store benchmarks (issue: storage §5).

(a) trials → Parquet shard (write_shard, zstd) rows/s             target ≥ 1,000,000 rows/s
    baseline: Arrow IPC file of the same table (no encoding work)
(b) trials → PostgreSQL through PostgresStore.write_trials (Arrow → CSV → COPY into a temp
    table → INSERT ... ON CONFLICT DO NOTHING) vs ``psql \\copy`` of the same rows from a CSV
    file straight into the same (emptied) table, rounds interleaved   target ratio ≥ 0.8
(c) trials → SQLite through SqliteStore.write_trials rows/s
    baseline: sqlite3 executemany of prebuilt tuples (no Arrow conversion)

PostgreSQL: ``BENCH_PG`` (default ``postgresql://tcplab:tcplab@127.0.0.1:5432/test``); the run
uses its own schema and drops it. Environment: BENCH_ROWS (default 200,000 for b and c).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa

from _harness import compare, save
from tcplab.experiment.trials import TRIAL_COLUMNS, write_shard
from tcplab.store import open_store
from tcplab.store._arrow import jsonify_lists
from tcplab.store._postgres import trials_csv
from tcplab.store._synthetic import run_meta, trial_table  # synthetic rows: storage only

PG = os.environ.get("BENCH_PG", "postgresql://tcplab:tcplab@127.0.0.1:5432/test")
ROWS = int(os.environ.get("BENCH_ROWS", "200000"))


def _table(n: int) -> pa.Table:
    return trial_table("bench", 0, n)


def bench_parquet(tmp: Path) -> dict[str, Any]:
    table = _table(1_000_000)

    def parquet() -> float:
        t0 = time.perf_counter()
        write_shard(tmp, 0, table)
        return table.num_rows / (time.perf_counter() - t0)

    def ipc() -> float:
        t0 = time.perf_counter()
        with (
            pa.OSFile(str(tmp / "t.arrow"), "wb") as sink,
            pa.ipc.new_file(sink, table.schema) as w,
        ):
            w.write_table(table)
        return table.num_rows / (time.perf_counter() - t0)

    res = compare(
        "trials -> Parquet shard / Arrow IPC (rows/s)",
        parquet,
        ipc,
        repeats=7,
        unit="rows/s",
        higher_is_better=True,
    )
    res["rows"] = table.num_rows
    res["target_rows_per_s"] = 1_000_000
    return res


def _psql(schema: str, *args: str) -> None:
    env = dict(os.environ, PGOPTIONS=f"-csearch_path={schema}")
    subprocess.run(
        ["psql", PG, "-q", "-v", "ON_ERROR_STOP=1", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def bench_postgres(tmp: Path) -> dict[str, Any]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        table = _table(ROWS)
        csv_path = tmp / "trials.csv"
        csv_path.write_bytes(trials_csv(table))
        store = open_store(f"{PG}?options=-csearch_path%3D{schema}")
        store.upsert_run(run_meta("bench"))
        cols = ", ".join(TRIAL_COLUMNS)

        def ours() -> float:
            _psql(schema, "-c", "TRUNCATE trials")
            t0 = time.perf_counter()
            store.write_trials("bench", 0, table)
            return ROWS / (time.perf_counter() - t0)

        def psql_copy() -> float:
            _psql(schema, "-c", "TRUNCATE trials")
            t0 = time.perf_counter()
            _psql(schema, "-c", f"\\copy trials ({cols}) FROM '{csv_path}' CSV")
            return ROWS / (time.perf_counter() - t0)

        res = compare(
            "trials -> PostgreSQL: write_trials / psql \\copy (rows/s)",
            ours,
            psql_copy,
            repeats=5,
            unit="rows/s",
            higher_is_better=True,
        )
        store.close()
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
    res["rows"] = ROWS
    res["target_ratio"] = 0.8
    return res


def bench_sqlite(tmp: Path) -> dict[str, Any]:
    table = _table(ROWS)
    rows = list(zip(*(c.to_pylist() for c in jsonify_lists(table).columns), strict=True))
    insert = (
        f"INSERT OR IGNORE INTO trials ({', '.join(TRIAL_COLUMNS)}) "
        f"VALUES ({', '.join('?' for _ in TRIAL_COLUMNS)})"
    )
    counter = iter(range(10_000))

    def ours() -> float:
        store = open_store(f"sqlite:///{tmp / f'ours-{next(counter)}.sqlite'}")
        store.upsert_run(run_meta("bench"))
        t0 = time.perf_counter()
        store.write_trials("bench", 0, table)
        dt = time.perf_counter() - t0
        store.close()
        return ROWS / dt

    def raw() -> float:
        path = tmp / f"raw-{next(counter)}.sqlite"
        store = open_store(f"sqlite:///{path}")  # same schema and indexes
        store.close()
        con = sqlite3.connect(path)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=NORMAL")
        t0 = time.perf_counter()
        with con:
            con.executemany(insert, rows)
        dt = time.perf_counter() - t0
        con.close()
        return ROWS / dt

    res = compare(
        "trials -> SQLite: write_trials / raw executemany (rows/s)",
        ours,
        raw,
        repeats=3,
        unit="rows/s",
        higher_is_better=True,
    )
    res["rows"] = ROWS
    return res


def main() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        results = [bench_parquet(tmp), bench_postgres(tmp), bench_sqlite(tmp)]
    save("store", results)
    return results


if __name__ == "__main__":
    from _harness import report

    report(main())
