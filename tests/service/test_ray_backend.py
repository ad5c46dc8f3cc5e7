"""The ``ray`` backend through the service, end to end, on real processes: PostgreSQL queue,
`tcplab serve`, `tcplab worker --backend ray` connected to a local Ray that the test starts
(2 CPUs), jobs whose spec uses the ``ray`` executor. A job succeeds with every planned trial
exactly once on disk and in the store, its trials run in Ray actors; a running Ray job is
cancelled at a shard boundary, keeps its finished shards, and a retry resumes it to
completion; a worker SIGKILLed mid-job is replaced and the run resumed; a worker without an
address starts one local Ray and runs two jobs at once on it."""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tcplab.experiment import RunDir, read_trials

from .conftest import Stack, fake_spec, wait_for
from .test_e2e import exactly_once

TERMINAL = ("succeeded", "failed", "cancelled")
RAY_CPUS = 2


@pytest.fixture(scope="module")
def ray_address() -> Iterator[str]:
    """A local Ray head (2 CPUs, no dashboard) started by this test; its GCS address."""
    from ..store.conftest import need_module

    need_module("ray")
    import ray

    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths are limited
    ray.init(
        num_cpus=RAY_CPUS,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        _temp_dir=temp,
        _node_ip_address="127.0.0.1",
    )
    try:
        yield str(ray.get_runtime_context().gcs_address)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)


def _ray_spec(name: str, n_tools: int, shard_size: int, workers: int = RAY_CPUS) -> Any:
    return fake_spec(
        name=name,
        n_tools=n_tools,
        shard_size=shard_size,
        executor={"kind": "ray", "workers": workers, "max_retries": 1},
    )


def _submit(stack: Stack, token: str, spec: dict[str, Any]) -> str:
    with stack.client(token) as http:
        r = http.post("/jobs", json={"spec": spec, "backend": "ray"})
        assert r.status_code == 201, r.text
        job = r.json()
        assert (job["backend"], job["queue"]) == ("ray", "tcplab.ray"), job
        return str(job["id"])


def _store_trials(stack: Stack, run_id: str) -> tuple[int, int]:
    with stack.db.begin() as conn:
        row = conn.execute(
            sa.text("SELECT count(*), count(DISTINCT seq) FROM trials WHERE run_id = :r"),
            {"r": run_id},
        ).one()
    return int(row[0]), int(row[1])


def _shards_done(stack: Stack, job_id: str) -> int:
    job = stack.job(job_id)
    return job.progress.shards_done if job and job.progress else 0


def test_ray_backend_runs_and_cancels_jobs(stack: Stack, ray_address: str) -> None:
    stack.serve()
    token = stack.token("rita")
    worker = stack.worker(1, 0, "--backend", "ray", TCPLAB_SERVICE_RAY_ADDRESS=ray_address)
    # 4 actors of 1 CPU on 2 CPUs would hang the run: the backend uses 2 and says so
    first = _submit(stack, token, _ray_spec("ray-small", n_tools=12, shard_size=3, workers=4))
    done = stack.wait_state(first, TERMINAL, 180)
    assert done.state == "succeeded", (done.reason, stack.log("worker-0.log"))
    assert done.backend == "ray" and done.run_status == "completed" and done.attempts == 1
    exactly_once(done.run_dir, 24)
    assert _store_trials(stack, done.run_id) == (24, 24)
    record = RunDir(done.run_dir).read_record()
    assert record.status == "completed" and len(record.shards) == 8
    assert [a.executor for a in record.attempts] == ["ray"]
    pids = set(read_trials(done.run_dir).column("pid").to_pylist())
    assert len(pids) == RAY_CPUS and worker.pid not in pids  # the trials ran in Ray actors
    with stack.client(token) as http:
        lines = [x["message"] for x in http.get(f"/jobs/{first}/logs").json()["lines"]]
    assert any("asks for 4 Ray workers" in m and "using 2" in m for m in lines), lines

    running = _submit(stack, token, _ray_spec("ray-long", n_tools=150, shard_size=1))
    wait_for("3 shards on Ray", lambda: _shards_done(stack, running) >= 3, 180)
    with stack.client(token) as http:
        r = http.post(f"/jobs/{running}/cancel")
        assert r.status_code == 200 and r.json()["cancel_requested_at"], r.text
        # stops at a shard boundary; 120 s was too short once on a 2-core CI machine under load
        cancelled = stack.wait_state(running, TERMINAL, 300)
        assert cancelled.state == "cancelled", (cancelled.reason, stack.log("worker-0.log"))
        assert cancelled.run_status == "cancelled", cancelled.reason
        assert "finished shards are kept" in (cancelled.reason or "")
        kept = RunDir(cancelled.run_dir).read_record()
        assert 3 <= len(kept.shards) < 300, len(kept.shards)
        seqs = read_trials(cancelled.run_dir).column("seq").to_pylist()
        assert len(seqs) == len(set(seqs)) == len(kept.shards)  # one trial per shard, once
        r = http.post(f"/jobs/{running}/retry")  # resumes from the kept shards, on Ray again
        assert r.status_code == 200 and r.json()["state"] == "queued", r.text
    resumed = stack.wait_state(running, TERMINAL, 300)
    assert resumed.state == "succeeded", (resumed.reason, stack.log("worker-0.log"))
    exactly_once(resumed.run_dir, 300)
    assert _store_trials(stack, resumed.run_id) == (300, 300)
    assert stack.stop(worker) == 0  # graceful: nothing running, exits 0


def test_concurrent_jobs_share_the_workers_own_ray(stack: Stack) -> None:
    """No address: the worker starts one local Ray and keeps it; two jobs at once on it (the
    first to finish must not shut Ray down under the other, nor may both start one)."""
    from ..store.conftest import need_module

    need_module("ray")
    stack.serve()
    token = stack.token("rita")
    env = {"TCPLAB_SERVICE_RAY_NUM_CPUS": str(RAY_CPUS), "RAY_ADDRESS": ""}
    worker = stack.worker(2, 0, "--backend", "ray", **env)
    spec = {"kind": "ray", "workers": 1, "max_retries": 1}
    long_job = _submit(
        stack, token, fake_spec(name="long", n_tools=30, shard_size=1, executor=spec)
    )
    short_job = _submit(
        stack, token, fake_spec(name="short", n_tools=6, shard_size=1, executor=spec)
    )
    jobs = [stack.wait_state(j, TERMINAL, 240) for j in (long_job, short_job)]
    for job, n in zip(jobs, (60, 12), strict=True):
        assert (job.state, job.attempts) == ("succeeded", 1), (
            job.reason,
            stack.log("worker-0.log"),
        )
        exactly_once(job.run_dir, n)
        assert _store_trials(stack, job.run_id) == (n, n)
    first, second = (RunDir(j.run_dir).read_record() for j in jobs)
    a_done, b_start, b_done = (
        first.attempts[0].finished_at,
        second.attempts[0].started_at,
        second.attempts[0].finished_at,
    )
    assert a_done and b_start and b_done and b_start < a_done and b_done < a_done  # overlapped
    assert stack.stop(worker) == 0


def test_a_killed_ray_worker_is_resumed_by_another(stack: Stack, ray_address: str) -> None:
    """SIGKILL the worker (the run's Ray driver) mid-job: Ray reaps its actors, another worker
    claims the job after the lease and resumes it; every trial once, the CPUs free again."""
    import ray

    stack.serve()
    token = stack.token("rita")
    env = {"TCPLAB_SERVICE_RAY_ADDRESS": ray_address}
    job_id = _submit(stack, token, _ray_spec("ray-killed", n_tools=60, shard_size=1))
    worker = stack.worker(1, 0, "--backend", "ray", **env)
    wait_for("5 shards on Ray", lambda: _shards_done(stack, job_id) >= 5, 180)
    worker.send_signal(signal.SIGKILL)
    worker.wait(timeout=30)
    stack.worker(1, 1, "--backend", "ray", **env)
    done = stack.wait_state(job_id, TERMINAL, 240)
    assert done.state == "succeeded" and done.attempts == 2, (
        done.reason,
        stack.log("worker-1.log"),
    )
    exactly_once(done.run_dir, 120)
    assert _store_trials(stack, done.run_id) == (120, 120)
    assert [a.executor for a in RunDir(done.run_dir).read_record().attempts] == ["ray", "ray"]

    def cpus_free() -> bool:  # the killed driver's actors were reaped, the new one's killed
        free: dict[str, float] = ray.available_resources()  # type: ignore[no-untyped-call]
        return free.get("CPU") == RAY_CPUS

    wait_for("Ray's CPUs to be free", cpus_free, 60)
