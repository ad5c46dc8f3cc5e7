"""Load on the service's read endpoints: the job list and the run summary, with 10^4 stored jobs.

Starts ``tcplab serve`` (uvicorn, its own process) on a free loopback port over a fresh
PostgreSQL schema, runs one real job with a worker (so a run directory exists), copies its row
to ``--jobs`` rows, then this process sends a constant-rate open-loop schedule (wrk2-style) of
``--rate`` requests per second for ``--seconds`` seconds — half ``GET /api/v1/jobs?limit=50``,
half ``GET /api/v1/runs/{run_id}`` — and, beside them, ``GET /api/v1/health`` at
``--baseline-rate`` (no database, no token: the floor of this server, client and machine under
the same load, so the figures carry their own reference). Latency is measured from each
request's **scheduled** send time (client lag and queueing count against the server, no
coordinated omission). A ``--warmup`` at the same rate comes first and is not counted. Prints
p50 / p95 / p99 / max per endpoint, their ratios to health, errors, the rate achieved, the
load average, and the server's side: its own latency histogram per route (until the response
starts, from its ``/metrics``) and the CPU time of the ``tcplab serve`` process per request (its
capacity on one free core is about 1000 / that many requests per second); writes them to
``bench/results/service_load.json``.

    .venv/bin/python bench/bench_service_load.py --jobs 10000 --rate 200 --seconds 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from _harness import emit, pg_schemas, stop_all

PG_URL = os.environ.get("STORE_TEST_PG", "postgresql://tcplab:tcplab@127.0.0.1:5432/test")
TCPLAB = Path(sys.executable).with_name("tcplab")
RESULTS = Path(__file__).parent / "results"
CONNECTIONS = 32


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(what: str, check: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def _spec() -> dict[str, Any]:
    return {
        "spec_version": 1,
        "name": "load",
        "tools": {"kind": "list", "names": [f"tool{i:03d}" for i in range(20)]},
        "arms": [{"name": "a", "analyzer": "fake"}, {"name": "b", "analyzer": "fake"}],
        "executor": {"kind": "inline"},
        "shard_size": 5,
    }


def _copies(db: Any, job_id: str, n: int) -> None:
    """``n - 1`` copies of the finished job's row (new ids, spread creation times, mixed states)."""
    from tcplab.service._jobs import get_job
    from tcplab.service._tables import jobs

    job = get_job(db, job_id)
    assert job is not None
    base = job.model_dump(mode="json")
    states = ("succeeded", "failed", "cancelled", "queued")
    rows = []
    t0 = datetime.now(UTC) - timedelta(days=30)
    for i in range(n - 1):
        row = dict(base)
        row |= {
            "id": f"job-load-{i:06d}-{uuid.uuid4().hex[:6]}",
            "client_key": None,
            "run_id": f"{base['run_id']}-copy{i:06d}",
            "queue_job_id": None,
            "execution_id": None,
            "state": states[i % len(states)],
            "priority": i % 11,
            "created_at": (t0 + timedelta(seconds=i)).isoformat(),
            "updated_at": (t0 + timedelta(seconds=i)).isoformat(),
        }
        row["priority_class"] = (
            "critical" if row["priority"] >= 9 else "high" if row["priority"] >= 7 else "normal"
        )
        rows.append(row)
    with db.begin() as conn:
        for start in range(0, len(rows), 1000):
            conn.execute(jobs.insert(), rows[start : start + 1000])
    with db.engine.connect() as conn:  # what autovacuum does after a bulk insert, at once
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE jobs")


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, int]:
    """One keep-alive HTTP/1.1 GET on an open connection: (status code, body bytes)."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    await reader.readexactly(length)
    return int(lines[0].split()[1]), length


def _schedule(rate: float, baseline_rate: float, seconds: float) -> list[tuple[float, int]]:
    """(due offset in s, endpoint index): job list and run summary alternate at ``rate``
    together; the baseline (health) runs beside them at ``baseline_rate``."""
    due = [(i / rate, i % 2) for i in range(int(rate * seconds))]
    if baseline_rate > 0:
        due += [(i / baseline_rate, 2) for i in range(int(baseline_rate * seconds))]
    return sorted(due)


async def _load(
    base: str, token: str, urls: list[str], schedule: list[tuple[float, int]]
) -> dict[str, Any]:
    """Open loop at a constant rate (wrk2-style): request i is due at start + its offset,
    whatever happened to the others; ``CONNECTIONS`` keep-alive connections take due
    requests in order, and latency counts from the due time, so queueing in the client (all
    connections busy) counts against the server (no coordinated omission). A raw HTTP/1.1
    client: httpx's own cost would be measured."""
    host, port = base.removeprefix("http://").split(":")
    requests = [
        f"GET {u} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
        for u in urls
    ]
    lat: dict[str, list[float]] = {u: [] for u in urls}
    size: dict[str, int] = {}
    errors: list[str] = []
    due_q: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        while (item := await due_q.get()) is not None:
            kind, due = item
            try:
                status, length = await _get(reader, writer, requests[kind])
                size[urls[kind]] = length
                if status != 200:
                    errors.append(f"{urls[kind]}: {status}")
            except (OSError, asyncio.IncompleteReadError) as exc:
                errors.append(f"{urls[kind]}: {type(exc).__name__}")
                reader, writer = await asyncio.open_connection(host, int(port))
            lat[urls[kind]].append(time.perf_counter() - due)
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(CONNECTIONS)]
    start = time.perf_counter()
    for offset, kind in schedule:
        due = start + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        due_q.put_nowait((kind, due))
    for _ in workers:
        due_q.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return {
        "latency": lat,
        "bytes": size,
        "errors": errors,
        "requests": len(schedule),
        "elapsed_s": elapsed,
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


_HIST = "tcplab_api_request_duration_seconds"


def _server_side(base: str, token: str) -> dict[str, dict[str, float]]:
    """The server's own latency histogram (until the response starts: no client or kernel
    queueing) from its ``/metrics``: per route, count, sum and the count within 50 ms."""
    text = httpx.get(
        f"{base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=60
    ).text
    out: dict[str, dict[str, float]] = {}
    for line in text.splitlines():
        if not line.startswith(_HIST) or 'method="GET"' not in line:
            continue
        name, _, value = line.rpartition(" ")
        route = name.split('route="', 1)[1].split('"', 1)[0]
        row = out.setdefault(route, {"count": 0.0, "sum": 0.0, "le_50ms": 0.0})
        if name.startswith(f"{_HIST}_count"):
            row["count"] += float(value)
        elif name.startswith(f"{_HIST}_sum"):
            row["sum"] += float(value)
        elif 'le="0.05"' in name:
            row["le_50ms"] += float(value)
    return out


def _server_delta(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], cpu_s: float
) -> dict[str, Any]:
    routes = {}
    total = 0.0
    for route, row in after.items():
        old = before.get(route, {"count": 0.0, "sum": 0.0, "le_50ms": 0.0})
        n = row["count"] - old["count"]
        if n <= 0 or route.endswith("/metrics"):
            continue
        total += n
        routes[route] = {
            "n": int(n),
            "mean_ms": round(1000 * (row["sum"] - old["sum"]) / n, 2),
            "share_within_50ms": round((row["le_50ms"] - old["le_50ms"]) / n, 4),
        }
    return {
        "routes": routes,
        "cpu_s": round(cpu_s, 2),
        "cpu_ms_per_request": round(1000 * cpu_s / total, 3) if total else None,
    }


def _q(values: list[float], q: float) -> float:
    return round(1000 * values[min(len(values) - 1, int(q * len(values)))], 2)


def _summary(raw: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (url, values) in zip(names, raw["latency"].items(), strict=True):
        values = sorted(values)
        out[name] = {
            "url": url,
            "n": len(values),
            "body_bytes": raw["bytes"].get(url),
            "p50_ms": _q(values, 0.5),
            "p95_ms": _q(values, 0.95),
            "p99_ms": _q(values, 0.99),
            "max_ms": round(1000 * values[-1], 2) if values else None,
        }
    base = out.get("health")
    if base:
        for name in names[:2]:
            out[name]["p50_over_health"] = round(out[name]["p50_ms"] / base["p50_ms"], 2)
            out[name]["p99_over_health"] = round(out[name]["p99_ms"] / base["p99_ms"], 2)
    return {
        "endpoints": out,
        "errors": len(raw["errors"]),
        "error_samples": raw["errors"][:5],
        "requests": raw["requests"],
        "elapsed_s": round(raw["elapsed_s"], 2),
        "achieved_rps": round(raw["requests"] / raw["elapsed_s"], 1),
        "client_cpu_s": raw.get("client_cpu_s"),
    }


def _stack(
    url: str, home: Path, n_jobs: int
) -> tuple[list[subprocess.Popen[bytes]], str, str, str]:
    from tcplab.service._db import ServiceDB
    from tcplab.service._tokens import create_token

    env = {k: v for k, v in os.environ.items() if not k.startswith("TCPLAB_")}
    env |= {"TCPLAB_HOME": str(home), "TCPLAB_DATABASE_URL": url}
    env["TCPLAB_SERVICE_RATE_ADMIN_PER_S"] = "0"  # the bench's token: no per-token rate limit
    db = ServiceDB(url, pool_size=2)
    db.migrate()
    token = create_token(db, "bench", "admin").token
    port = _port()
    log = open(home / "serve.log", "ab")  # noqa: SIM115 (kept open for the process's life)
    procs = [
        subprocess.Popen(
            [str(TCPLAB), "serve", "--port", str(port)], env=env, stdout=log, stderr=log
        ),
        subprocess.Popen([str(TCPLAB), "worker"], env=env, stdout=log, stderr=log),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        return _prepare(db, procs, base, token, n_jobs)
    except BaseException:
        for p in procs:
            p.kill()
        raise


def _prepare(
    db: Any, procs: list[subprocess.Popen[bytes]], base: str, token: str, n_jobs: int
) -> tuple[list[subprocess.Popen[bytes]], str, str, str]:
    _wait("the API", lambda: _ok(f"{base}/api/v1/health"))
    r = httpx.post(
        f"{base}/api/v1/jobs", json={"spec": _spec()}, headers={"Authorization": f"Bearer {token}"}
    )
    job_id = r.json()["id"]
    from tcplab.service._jobs import get_job

    done = _wait("the job", lambda: (j := get_job(db, job_id)) and j.state == "succeeded" and j)
    procs[1].terminate()
    procs[1].wait(timeout=60)
    _copies(db, job_id, n_jobs)
    db.close()
    return procs, base, token, str(done.run_id)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=10_000)
    ap.add_argument("--rate", type=float, default=200.0, help="job list + run summary, req/s")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--baseline-rate", type=float, default=20.0, help="/health beside, req/s")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds at the rate, not counted")
    args = ap.parse_args()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with pg_schemas(PG_URL, "load", ("jobs",)) as urls, tempfile.TemporaryDirectory() as home:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            procs, base, token, run_id = _stack(urls["jobs"], Path(home), args.jobs)
            paths = ["/api/v1/jobs?limit=50", f"/api/v1/runs/{run_id}", "/api/v1/health"]
            warm = _schedule(args.rate, args.baseline_rate, args.warmup)
            asyncio.run(_load(base, token, paths, warm))
            measured = _schedule(args.rate, args.baseline_rate, args.seconds)
            before, cpu0 = _server_side(base, token), _cpu_s(procs[0].pid)
            client0 = _cpu_s(os.getpid())
            raw = asyncio.run(_load(base, token, paths, measured))
            raw["client_cpu_s"] = round(_cpu_s(os.getpid()) - client0, 2)
            cpu = _cpu_s(procs[0].pid) - cpu0
            server = _server_delta(before, _server_side(base, token), cpu)
        finally:
            stop_all(procs)  # before the schema goes
    figures = {
        "stored_jobs": args.jobs,
        "target_rps": args.rate,
        "baseline_rps": args.baseline_rate,
        "seconds": args.seconds,
        "loadavg_before": load_before,
        **_summary(raw, ["job_list", "run_summary", "health"]),
        "server": server,
    }
    emit("service_load", figures)


if __name__ == "__main__":
    main()
