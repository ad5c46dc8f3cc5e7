"""Reliability on real processes: SIGKILL of workers at seeded random points, graceful SIGTERM
hand-back, restart of every process, cancel of queued and running jobs, permanent failures."""

from __future__ import annotations

import random
import signal

import sqlalchemy as sa

from tcplab.experiment import RunDir, read_trials

from .conftest import Stack, fake_spec, wait_for
from .test_e2e import exactly_once

N_TOOLS = 60  # two arms, one trial per shard: 120 shards


def _shards_done(stack: Stack, job_id: str) -> int:
    job = stack.job(job_id)
    return job.progress.shards_done if job and job.progress else 0


def _submit(stack: Stack, token: str, **spec: object) -> str:
    with stack.client(token) as http:
        r = http.post("/jobs", json={"spec": fake_spec(**spec)})  # type: ignore[arg-type]
        assert r.status_code == 201, r.text
        return str(r.json()["id"])


def test_kill9_workers_at_random_points_every_trial_exactly_once(stack: Stack) -> None:
    stack.serve()
    job_id = _submit(stack, stack.token("alice"), n_tools=N_TOOLS, shard_size=1)
    points = sorted(random.Random(12).sample(range(4, 100), 5))  # the "at least 5"
    worker = stack.worker(n=0)
    killed_at = -1
    for i, point in enumerate(points):

        def reached(p: int = point, attempt: int = i + 1, after: int = killed_at) -> bool:
            # this worker's own execution got there and wrote a shard (its attempt is in
            # run.json; with two close points the last execution's progress may already pass)
            job = stack.job(job_id)
            done = _shards_done(stack, job_id)
            return job.attempts == attempt and done >= p and done > after

        wait_for(f"{point} shards", reached, 120)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
        killed_at = _shards_done(stack, job_id)
        assert stack.job(job_id).state == "running"  # nobody has noticed yet: the lease runs
        worker = stack.worker(n=i + 1)
    done = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"), 180)
    assert done.state == "succeeded", (done.reason, stack.log("worker-5.log"))
    assert done.attempts == 6  # the first execution and one per kill
    exactly_once(done.run_dir, 2 * N_TOOLS)
    record = RunDir(done.run_dir).read_record()
    assert record.status == "completed" and len(record.attempts) == 6
    with stack.db.begin() as conn:  # the store in the same database: each trial once too
        n = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT seq) FROM trials WHERE run_id = :r"),
            {"r": done.run_id},
        ).one()
    assert tuple(n) == (2 * N_TOOLS, 2 * N_TOOLS)


def test_sigterm_hands_back_and_every_process_restarts(stack: Stack) -> None:
    stack.serve()
    token = stack.token("alice")
    long_job = _submit(stack, token, name="long", n_tools=40, shard_size=1)
    short_job = _submit(stack, token, name="short", n_tools=3)
    worker = stack.worker(n=0)
    wait_for("5 shards", lambda: _shards_done(stack, long_job) >= 5, 120)
    assert stack.stop(worker) == 0  # graceful: stops at the shard boundary
    handed = stack.job(long_job)
    assert handed.state == "queued" and "handed back" in (handed.reason or ""), handed.reason
    kept = len(RunDir(handed.run_dir).read_record().shards)
    assert 5 <= kept < 80
    assert stack.server is not None
    stack.stop(stack.server)  # uvicorn shuts down, then re-raises SIGTERM (exit -15)
    assert "Application shutdown complete" in stack.log("serve.log")
    stack.serve()  # a new API process: every job is still there
    with stack.client(token) as http:
        listed = {j["id"]: j["state"] for j in http.get("/jobs").json()["jobs"]}
    assert listed[long_job] == "queued" and listed[short_job] in ("queued", "succeeded")
    stack.worker(n=1)
    for job_id, n in ((long_job, 80), (short_job, 6)):
        done = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"), 180)
        assert done.state == "succeeded", done.reason
        exactly_once(done.run_dir, n)
    assert stack.job(long_job).attempts == 2


def test_cancel_queued_and_running(stack: Stack) -> None:
    stack.serve()
    token = stack.token("alice")
    queued = _submit(stack, token, name="never-runs", n_tools=3)
    with stack.client(token) as http:
        r = http.post(f"/jobs/{queued}/cancel")
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        assert http.post(f"/jobs/{queued}/cancel").status_code == 409
        running = _submit(stack, token, name="long", n_tools=40, shard_size=1)
        stack.worker()
        wait_for("3 shards", lambda: _shards_done(stack, running) >= 3, 120)
        r = http.post(f"/jobs/{running}/cancel")
        assert r.status_code == 200 and r.json()["cancel_requested_at"], r.text
        done = stack.wait_state(running, ("succeeded", "failed", "cancelled"))
        assert done.state == "cancelled" and done.run_status == "cancelled", done.reason
        record = RunDir(done.run_dir).read_record()
        assert 3 <= len(record.shards) < 80
        kept = read_trials(done.run_dir).column("seq").to_pylist()
        assert len(kept) == len(set(kept)) == len(record.shards)  # one trial per shard
        r = http.post(f"/jobs/{running}/retry")  # resumes the run from its shards
        assert r.status_code == 200 and r.json()["state"] == "queued", r.text
        done = stack.wait_state(running, ("succeeded", "failed", "cancelled"), 120)
        assert done.state == "succeeded", done.reason
        exactly_once(done.run_dir, 80)
    never = stack.job(queued)
    assert (never.state, never.run_id, never.attempts) == ("cancelled", None, 0)


def test_a_failure_a_retry_cannot_fix_fails_at_once(stack: Stack) -> None:
    stack.serve()
    spec = fake_spec(n_tools=2)
    spec["arms"] = [{"name": "t", "analyzer": "tcp"}]  # no registry in this TCPLAB_HOME
    with stack.client(stack.token("alice")) as http:
        r = http.post("/jobs", json={"spec": spec})
        assert r.status_code == 201, r.text
    stack.worker()
    done = stack.wait_state(r.json()["id"], ("succeeded", "failed", "cancelled"))
    assert done.state == "failed" and done.attempts == 1
    assert "registry" in (done.reason or "").lower(), done.reason
    assert done.run_id is None  # preflight refused it: no run directory was created
