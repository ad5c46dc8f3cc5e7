"""``/metrics`` scraped by a real Prometheus (Debian's ``prometheus``, started here on a free
loopback port with a temporary config and storage) and queried through its HTTP API."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ..store.conftest import need
from .conftest import Stack, fake_spec, free_port, wait_for

SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tcplab
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs:
      - targets: ["{target}"]
"""


@contextlib.contextmanager
def prometheus(tmp: Path, target: str, token: str) -> Iterator[str]:
    """A Prometheus scraping ``target`` every second with ``token``; its base URL."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    need(binary is not None and promtool is not None, "prometheus is not installed")
    assert binary is not None and promtool is not None
    token_file = tmp / "scrape.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    config = tmp / "prometheus.yml"
    config.write_text(SCRAPE_CONFIG.format(token_file=token_file, target=target))
    check = subprocess.run([promtool, "check", "config", str(config)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _query(base: str, promql: str) -> dict[str, float] | None:
    """``{label-values: value}`` of an instant vector, or None while Prometheus is not up."""
    try:
        r = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.TransportError:
        return None
    if r.status_code != 200:
        return None
    out = {}
    for sample in r.json()["data"]["result"]:
        labels = sample["metric"]
        out[labels.get("priority", labels.get("job", ""))] = float(sample["value"][1])
    return out


def _target_health(base: str) -> Any:
    with contextlib.suppress(httpx.TransportError):
        targets = httpx.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return targets and targets[0]
    return None


def test_prometheus_scrapes_queue_depth(stack: Stack, tmp_path: Path) -> None:
    stack.serve()
    submitter, scraper = stack.token("alice"), stack.token("prometheus", "viewer")
    with stack.client(submitter) as http:
        for priority in (10, 9, 9, 7, 2, 0, 1):
            r = http.post("/jobs", json={"spec": fake_spec(n_tools=2), "priority": priority})
            assert r.status_code == 201, r.text
    assert httpx.get(f"{stack.base}/metrics", timeout=10).status_code == 401
    target = stack.base.removeprefix("http://")
    with prometheus(tmp_path, target, scraper) as prom:
        expected = {"critical": 3.0, "high": 1.0, "normal": 0.0, "low": 3.0}

        def depth() -> bool:
            return _query(prom, "tcplab_queue_depth") == expected

        try:
            wait_for("Prometheus to scrape the queue depth", depth, timeout=60)
        except AssertionError:
            raise AssertionError(
                f"{_target_health(prom)}\n{(tmp_path / 'prometheus.log').read_text()[-3000:]}"
            ) from None
        health = _target_health(prom)
        assert health["health"] == "up", health
        assert _query(prom, "tcplab_jobs_running") == {"tcplab": 0.0}
        latency = "sum(tcplab_api_request_duration_seconds_count{route='/api/v1/jobs'})"
        assert wait_for("the submits' latency", lambda: _query(prom, latency)) == {"": 7.0}


# --- the jobs collector's aggregate (migration s0004) against a full scan of the jobs table ---

_FULL_SCAN = {  # what /metrics counted before s0004: a read of every job, the reference here
    "states": "SELECT state, priority_class, count(*) FROM jobs GROUP BY 1, 2",
    "durations": """
        SELECT state, count(*), coalesce(sum(d), 0), {buckets}
        FROM (SELECT state, greatest(0, extract(epoch FROM finished_at - started_at)) AS d
              FROM jobs WHERE state IN ('succeeded', 'failed', 'cancelled')
              AND started_at IS NOT NULL AND finished_at IS NOT NULL) AS f
        GROUP BY state""",
    "trials": """
        SELECT arm.key, sum((arm.value ->> 'done')::bigint)
        FROM jobs, jsonb_each(jobs.progress -> 'arms') AS arm
        WHERE jobs.progress IS NOT NULL GROUP BY arm.key""",
}


def _reference(db: Any) -> dict[str, Any]:
    from tcplab.service._metrics import DURATION_BUCKETS

    buckets = ", ".join(f"count(*) FILTER (WHERE d <= {b:g})" for b in DURATION_BUCKETS)
    with db.begin() as conn:
        states = conn.exec_driver_sql(_FULL_SCAN["states"]).all()
        durs = conn.exec_driver_sql(_FULL_SCAN["durations"].format(buckets=buckets)).all()
        trials = conn.exec_driver_sql(_FULL_SCAN["trials"]).all()
    queue: dict[str, float] = {}
    per_state: dict[str, float] = {}
    for state, klass, n in states:
        per_state[state] = per_state.get(state, 0) + n
        if state == "queued":
            queue[klass] = queue.get(klass, 0) + n
    hist = {}
    for state, n, total, *cum in durs:
        hist[state] = (float(n), round(float(total), 6), [float(c) for c in cum])
    return {
        "queue": queue,
        "states": per_state,
        "durations": hist,
        "trials": {arm: float(n) for arm, n in trials},
    }


def _collected(db: Any) -> dict[str, Any]:
    from tcplab.service._metrics import JobsCollector

    fams = {f.name: f for f in JobsCollector(lambda: db).collect()}
    queue = {s.labels["priority"]: s.value for s in fams["tcplab_queue_depth"].samples if s.value}
    states = {s.labels["state"]: s.value for s in fams["tcplab_jobs"].samples if s.value}
    hist: dict[str, Any] = {}
    for s in fams["tcplab_job_duration_seconds"].samples:
        cum = hist.setdefault(s.labels["outcome"], [0.0, 0.0, []])[2]
        if s.name.endswith("_bucket") and s.labels["le"] != "+Inf":
            cum.append(s.value)
        elif s.name.endswith("_count"):
            hist[s.labels["outcome"]][0] = s.value
        elif s.name.endswith("_sum"):
            hist[s.labels["outcome"]][1] = round(s.value, 6)
    durations = {k: (v[0], v[1], v[2]) for k, v in hist.items() if v[0]}
    trials = {s.labels["arm"]: s.value for s in fams["tcplab_trials_done"].samples}
    return {"queue": queue, "states": states, "durations": durations, "trials": trials}


def _job_row(i: int, state: str, **extra: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    t = datetime(2026, 1, 1, tzinfo=UTC)
    row = {
        "id": f"job-agg-{i:05d}",
        "schema_version": 1,
        "name": "agg",
        "spec": {},
        "spec_hash": "x",
        "priority": i % 11,
        "priority_class": ("low", "normal", "high", "critical")[i % 4],
        "resources": {},
        "constraints": {},
        "backend": "local",
        "queue": "default",
        "submitted_by": "alice",
        "state": state,
        "created_at": t,
        "updated_at": t,
        "attempts": 0,
        "max_attempts": 3,
        "n_tools": 1,
        "n_trials": 1,
        "arms": [],
    }
    return row | extra


def _finished(i: int, seconds: float, state: str = "succeeded") -> dict[str, Any]:
    from datetime import UTC, datetime, timedelta

    t0 = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)
    arms = {"a": {"done": i % 7, "total": 7, "failures": 0}, f"arm{i % 3}": {"done": 2}}
    return _job_row(
        i,
        state,
        started_at=t0,
        finished_at=t0 + timedelta(seconds=seconds),
        progress={"arms": arms},
    )


def test_jobs_collector_aggregate_equals_a_full_scan(tmp_path: Path) -> None:
    """Backfill on upgrade, then inserts, updates (state, times, progress, heartbeat only) and
    deletes, with scrapes (folds) in between: the collector equals the full scan each time."""
    import sqlalchemy as sa
    from alembic import command

    from tcplab.service._db import ServiceDB
    from tcplab.service._tables import jobs

    from .conftest import pg_schema

    with pg_schema() as url:
        db = ServiceDB(url, pool_size=2)
        try:
            db.migrate()
            with db.begin() as conn:
                command.downgrade(db._alembic_config(conn), "s0003")
                conn.execute(jobs.insert(), [_finished(i, 0.5 + i * 37.3) for i in range(40)])
                command.upgrade(db._alembic_config(conn), "head")  # the backfill
            assert _collected(db) == _reference(db)
            seconds = (0, 1, 1.0001, 5, 59.9, 300, 3600 * 5, 86400, 86401, 10**6)
            with db.begin() as conn:
                conn.execute(jobs.insert(), [_job_row(100 + i, "queued") for i in range(30)])
                conn.execute(
                    jobs.insert(),
                    [
                        _finished(200 + i, s, ("failed", "cancelled")[i % 2])
                        for i, s in enumerate(seconds)
                    ],
                )
            assert _collected(db) == _reference(db)
            c = jobs.c
            with db.begin() as conn:  # claims, progress, finishes, a heartbeat, a requeue
                conn.execute(
                    sa.update(jobs)
                    .where(c.id.in_([f"job-agg-{100 + i:05d}" for i in range(10)]))
                    .values(
                        state="running",
                        started_at=sa.func.now(),
                        progress={"arms": {"a": {"done": 3}}},
                    )
                )
            before_fold = _reference(db)
            with db.begin() as conn:
                conn.execute(
                    sa.update(jobs)
                    .where(c.id == "job-agg-00100")
                    .values(heartbeat_at=sa.func.now())
                )
                conn.execute(
                    sa.update(jobs)
                    .where(c.id.in_([f"job-agg-{100 + i:05d}" for i in range(5)]))
                    .values(
                        state="succeeded",
                        finished_at=c.started_at + sa.text("interval '42 seconds'"),
                    )
                )
                conn.execute(
                    sa.update(jobs)
                    .where(c.id == "job-agg-00005")
                    .values(state="queued", started_at=None, finished_at=None, progress=None)
                )
                conn.execute(sa.delete(jobs).where(c.id.in_(["job-agg-00001", "job-agg-00201"])))
                conn.execute(
                    sa.update(jobs).where(c.id == "job-agg-00110").values(priority_class="critical")
                )
            ref = _reference(db)
            assert before_fold != ref
            assert set(ref["durations"]) == {"succeeded", "failed", "cancelled"}
            assert ref["trials"]["a"] > 0 and ref["queue"] and ref["states"]["running"] == 5
            assert _collected(db) == _reference(db)
            assert _collected(db) == _reference(db)  # a second scrape folds nothing new
            with db.begin() as conn:
                deltas = conn.exec_driver_sql(
                    "SELECT count(*) FROM tcplab_job_metric_deltas"
                ).scalar()
                totals = conn.exec_driver_sql(
                    "SELECT count(*) FROM tcplab_job_metric_totals"
                ).scalar()
            assert deltas == 0 and int(totals or 0) < 60  # small: keys, not jobs
            with db.begin() as conn:
                conn.execute(sa.delete(jobs))
            assert (
                _collected(db)
                == _reference(db)
                == {"queue": {}, "states": {}, "durations": {}, "trials": {}}
            )
        finally:
            db.close()


def test_concurrent_scrapes_fold_while_jobs_change() -> None:
    """Three scrapers (one folds at a time, the others read) while three writers move jobs
    between states and update progress: afterwards the collector equals the full scan."""
    import random
    import threading

    import sqlalchemy as sa

    from tcplab.service._db import ServiceDB
    from tcplab.service._metrics import JobsCollector
    from tcplab.service._tables import jobs

    from .conftest import pg_schema

    with pg_schema() as url:
        db = ServiceDB(url, pool_size=8)
        try:
            db.migrate()
            with db.begin() as conn:
                conn.execute(jobs.insert(), [_finished(i, i * 3.7) for i in range(60)])
            stop, errors = threading.Event(), []

            def write(seed: int) -> None:
                rng = random.Random(seed)
                for _ in range(80):
                    job = f"job-agg-{rng.randrange(60):05d}"
                    state = rng.choice(("queued", "running", "succeeded", "failed"))
                    done = rng.randrange(9)
                    try:
                        with db.begin() as conn:
                            conn.execute(
                                sa.update(jobs)
                                .where(jobs.c.id == job)
                                .values(state=state, progress={"arms": {"a": {"done": done}}})
                            )
                    except Exception as exc:  # a deadlock would land here
                        errors.append(exc)

            def scrape() -> None:
                while not stop.is_set():
                    try:
                        list(JobsCollector(lambda: db).collect())
                    except Exception as exc:
                        errors.append(exc)

            scrapers = [threading.Thread(target=scrape) for _ in range(3)]
            writers = [threading.Thread(target=write, args=(s,)) for s in range(3)]
            for t in scrapers + writers:
                t.start()
            for t in writers:
                t.join(timeout=120)
            stop.set()
            for t in scrapers:
                t.join(timeout=60)
            assert not errors, errors[:3]
            assert _collected(db) == _reference(db)
        finally:
            db.close()
