"""End to end on real processes: submit over HTTP, a worker runs it, the run is readable."""

from __future__ import annotations

from pathlib import Path

from tcplab.experiment import read_trials

from .conftest import Stack, fake_spec


def exactly_once(run_dir: str, n_trials: int) -> None:
    table = read_trials(Path(run_dir))
    seqs = sorted(table.column("seq").to_pylist())
    assert seqs == list(range(n_trials)), "every planned trial exactly once"


def test_submit_worker_runs_it_and_the_run_is_readable(stack: Stack) -> None:
    stack.serve()
    token = stack.token("alice")
    with stack.client(token) as http:
        r = http.post("/jobs", json={"spec": fake_spec(n_tools=6), "priority": 9})
        assert r.status_code == 201, r.text
        job = r.json()
        assert (job["state"], job["priority_class"], job["n_trials"]) == ("queued", "critical", 12)
        assert job["resources"] == {
            "formula_version": 1,
            "processes": 1,
            "cpu": 1.0,
            "memory_mib": 641,
            "gpu": 0,
            "fpga": 0,
        }
        stack.worker()
        done = stack.wait_state(job["id"], ("succeeded", "failed", "cancelled"))
        assert done.state == "succeeded", (done.reason, stack.log("worker-0.log"))
        detail = http.get(f"/jobs/{job['id']}").json()
        assert detail["progress"]["arms"] == {
            "a": {"done": 6, "total": 6, "failures": 0},
            "b": {"done": 6, "total": 6, "failures": 0},
        }
        assert detail["run_status"] == "completed" and detail["attempts"] == 1
        summary = http.get(f"/runs/{detail['run_id']}").json()
        assert summary["status"] == "completed" and summary["shards_done"] == 6
        assert [a["arm"] for a in summary["arms"]] == ["a", "b"]
        assert [r["run_id"] for r in http.get("/runs").json()["runs"]] == [detail["run_id"]]
    exactly_once(done.run_dir, 12)
