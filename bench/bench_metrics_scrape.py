"""Scrape latency of the service's ``/metrics`` with 10^4 stored jobs, against an empty queue.

Starts two ``tcplab serve`` processes on fresh PostgreSQL schemas: one whose ``jobs`` table
holds ``--jobs`` rows (one real finished job copied, mixed states, as
``bench_service_load.py`` does) and one with none (the baseline). Then scrapes both in
alternating rounds (``--rounds`` × ``--per-round`` sequential ``GET /metrics`` on a kept-alive
connection each) and reports per-server median and p99 latency and the median of the per-round
ratios full / empty with its range, and the database's own execution time of each query the
jobs collector runs per scrape (EXPLAIN ANALYZE) on both: since migration ``s0004``, folding
the trigger's deltas into the aggregate and reading it. Then the trigger's price for writers:
the latency of a single-row job state update with the metrics trigger enabled and disabled. Writes
``bench/results/metrics_scrape.json``.

    .venv/bin/python bench/bench_metrics_scrape.py --jobs 10000
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from _harness import emit, pg_schemas, stop_all
from bench_service_load import PG_URL, TCPLAB, _ok, _port, _stack, _wait


def _empty_server(url: str, home: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    from tcplab.service._db import ServiceDB
    from tcplab.service._tokens import create_token

    db = ServiceDB(url, pool_size=1)
    db.migrate()
    token = create_token(db, "bench", "admin").token
    db.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCPLAB_")}
    env |= {"TCPLAB_HOME": str(home), "TCPLAB_DATABASE_URL": url}
    port = _port()
    log = open(home / "serve-empty.log", "ab")  # noqa: SIM115 (kept for the process's life)
    proc = subprocess.Popen(
        [str(TCPLAB), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
    )
    base = f"http://127.0.0.1:{port}"
    _wait("the empty API", lambda: _ok(f"{base}/api/v1/health"))
    return proc, base, token


def _scrape(client: httpx.Client, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = client.get("/metrics")
        out.append(time.perf_counter() - t0)
        assert r.status_code == 200 and b"tcplab_queue_depth" in r.content, r.text[:200]
    return out


def _measure(targets: dict[str, tuple[str, str]], rounds: int, per_round: int) -> dict[str, Any]:
    clients = {
        k: httpx.Client(base_url=b, headers={"Authorization": f"Bearer {t}"}, timeout=60)
        for k, (b, t) in targets.items()
    }
    lat: dict[str, list[float]] = {k: [] for k in clients}
    ratios = []
    try:
        for c in clients.values():
            _scrape(c, 3)  # warm-up: connections, first collection
        for _ in range(rounds):
            medians = {}
            for k, c in clients.items():
                got = _scrape(c, per_round)
                lat[k] += got
                medians[k] = statistics.median(got)
            ratios.append(medians["full"] / medians["empty"])
    finally:
        for c in clients.values():
            c.close()

    def ms(values: list[float], q: float) -> float:
        return round(sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1e3, 2)

    return {
        "latency_ms": {
            k: {"p50": ms(v, 0.5), "p99": ms(v, 0.99), "n": len(v)} for k, v in lat.items()
        },
        "ratio_full_over_empty": {
            "median": round(statistics.median(ratios), 3),
            "min": round(min(ratios), 3),
            "max": round(max(ratios), 3),
            "rounds": rounds,
        },
    }


def _query_ms(url: str) -> dict[str, float]:
    """Execution time (EXPLAIN ANALYZE, ms) of each query the jobs collector runs per scrape."""
    from tcplab.service._db import ServiceDB
    from tcplab.service._metrics import _FOLD_SQL, _READ_SQL

    queries = {  # since s0004: fold the trigger's deltas into the totals, read both
        "fold_deltas": _FOLD_SQL,
        "read_aggregate": _READ_SQL,
    }
    db = ServiceDB(url, pool_size=1)
    out = {}
    try:
        with db.begin() as conn:
            for name, sql in queries.items():
                plan: Any = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}").scalar()
                out[name] = round(float(plan[0]["Execution Time"]), 2)
    finally:
        db.close()
    return out


def _write_cost(url: str, rounds: int = 6, per_round: int = 100) -> dict[str, Any]:
    """The trigger's price on the write side: single-row job updates that change the state
    (each its own transaction, as the queue's are), in alternating rounds with the metrics
    triggers enabled and disabled (``ALTER TABLE jobs DISABLE TRIGGER``); per-update ms."""
    import psycopg

    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    lat: dict[str, list[float]] = {"trigger": [], "no_trigger": []}
    toggle = ("tcplab_jobs_metrics_update",)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        ids = [r[0] for r in conn.execute("SELECT id FROM jobs ORDER BY id LIMIT %s", (per_round,))]
        try:
            for i in range(rounds * 2):
                mode = ("trigger", "no_trigger")[i % 2]
                verb = "ENABLE" if mode == "trigger" else "DISABLE"
                for name in toggle:
                    conn.execute(f"ALTER TABLE jobs {verb} TRIGGER {name}")
                for job_id in ids:
                    t0 = time.perf_counter()
                    conn.execute(
                        "UPDATE jobs SET state = CASE state WHEN 'queued' THEN 'running' "
                        "ELSE 'queued' END WHERE id = %s",
                        (job_id,),
                    )
                    lat[mode].append(time.perf_counter() - t0)
        finally:
            for name in toggle:
                conn.execute(f"ALTER TABLE jobs ENABLE TRIGGER {name}")
    return {
        k: {"p50_ms": round(statistics.median(v) * 1e3, 3), "n": len(v)} for k, v in lat.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=20)
    args = ap.parse_args()
    with (
        pg_schemas(PG_URL, "scrape", ("full", "empty")) as urls,
        tempfile.TemporaryDirectory() as home,
    ):
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs, full_base, full_token, _ = _stack(urls["full"], Path(home), args.jobs)
            empty, empty_base, empty_token = _empty_server(urls["empty"], Path(home))
            procs.append(empty)
            targets = {"full": (full_base, full_token), "empty": (empty_base, empty_token)}
            figures = _measure(targets, args.rounds, args.per_round)
            figures["collector_queries_ms"] = {k: _query_ms(u) for k, u in urls.items()}
            figures["job_update_ms"] = _write_cost(urls["full"])
        finally:
            stop_all(procs)  # before the schemas go
    emit("metrics_scrape", {"stored_jobs": args.jobs, **figures})


if __name__ == "__main__":
    main()
