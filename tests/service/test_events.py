"""Progress over Server-Sent Events on real processes (uvicorn, a worker, PostgreSQL), read
with httpx streaming; then the job's figures on /metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .conftest import Stack, fake_spec

N_TOOLS = 30


def sse(lines: Iterator[str], deadline: float) -> Iterator[tuple[str, dict[str, Any]]]:
    """(event, data) pairs of an SSE stream; fails once ``deadline`` (monotonic) is past."""
    event, data = "message", ""
    for line in lines:
        assert time.monotonic() < deadline, "the event stream ran past its deadline"
        if line.startswith(":"):
            continue
        if line.startswith("event:"):
            event = line.partition(":")[2].strip()
        elif line.startswith("data:"):
            data += line.partition(":")[2].strip()
        elif line == "" and data:
            yield event, json.loads(data)
            event, data = "message", ""


def test_progress_streams_until_the_job_ends(stack: Stack) -> None:
    stack.serve()
    token = stack.token("alice")
    with stack.client(token) as http:
        job = http.post("/jobs", json={"spec": fake_spec(n_tools=N_TOOLS, shard_size=1)}).json()
        anonymous = http.get(f"/jobs/{job['id']}/events", headers={"Authorization": ""})
        assert anonymous.status_code == 401
        assert http.get("/jobs/job-nope/events").status_code == 404
        events = []
        timeout = httpx.Timeout(30, read=60)
        with http.stream("GET", f"/jobs/{job['id']}/events", timeout=timeout) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            for kind, data in sse(r.iter_lines(), time.monotonic() + 180):
                events.append((kind, data))
                if len(events) == 1:
                    assert (kind, data["state"], data["trials_done"]) == ("progress", "queued", 0)
                    assert data["arms"]["a"] == {"done": 0, "total": N_TOOLS, "failures": 0}
                    stack.worker()
    kinds = [k for k, _ in events]
    assert kinds[-1] == "end" and kinds.count("end") == 1, kinds
    final = events[-1][1]
    assert final["state"] == "succeeded", (final, stack.log("worker-0.log"))
    assert final["arms"] == {
        "a": {"done": N_TOOLS, "total": N_TOOLS, "failures": 0},
        "b": {"done": N_TOOLS, "total": N_TOOLS, "failures": 0},
    }
    done = [d["trials_done"] for _, d in events]
    assert done == sorted(done), "progress never goes back"
    assert "running" in {d["state"] for _, d in events} or len(events) >= 2
    _metrics_after_one_job(stack, token)


def _metrics_after_one_job(stack: Stack, token: str) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    r = httpx.get(f"{stack.base}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    assert samples[("tcplab_trials_done_total", (("arm", "a"),))] == N_TOOLS
    assert samples[("tcplab_trials_done_total", (("arm", "b"),))] == N_TOOLS
    assert samples[("tcplab_job_duration_seconds_count", (("outcome", "succeeded"),))] == 1
    assert samples[("tcplab_jobs", (("state", "succeeded"),))] == 1
    assert samples[("tcplab_jobs_running", ())] == 0


def test_a_cancelled_job_ends_its_stream(stack: Stack) -> None:
    stack.serve()
    with stack.client(stack.token("bob")) as http:
        job_id = http.post("/jobs", json={"spec": fake_spec(n_tools=4)}).json()["id"]
        seen = []
        with http.stream("GET", f"/jobs/{job_id}/events") as r:
            for kind, data in sse(r.iter_lines(), time.monotonic() + 60):
                seen.append((kind, data["state"]))
                if len(seen) == 1:
                    assert http.post(f"/jobs/{job_id}/cancel").status_code == 200
        assert seen[0] == ("progress", "queued") and seen[-1] == ("end", "cancelled"), seen
        assert "cancelled by bob" in (data["reason"] or "")
