"""LLM arm throughput against a local server with a fixed artificial latency.

The server is the test suite's fault server (``tests/analyzers/llm_servers.py``), run in its
own process, answering every request after a fixed delay (50 ms): a stand-in for a model
server, so the
figure measures the arm's own overhead (SDK, streaming parse, limiter, bookkeeping), not a
model. The bound is ``concurrency / measured latency``, where the latency is the median of
sequential requests sent with a plain HTTP client (no arm). Target: achieved ≥ 0.9 × bound.

Run: ``.venv/bin/python bench/bench_llm.py`` (about 30 s).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from _harness import save
from tcplab.analyzers import Status, ToolInput
from tcplab.analyzers.llm import LLMAnalyzer

LATENCY_S = 0.05
SECTIONS = {"NAME": "ls - list directory contents", "DESCRIPTION": "List FILEs. " * 40}


class ServerProcess:
    """The fault server in a child process (so it does not share this process's GIL)."""

    def __init__(self, latency_s: float) -> None:
        script = Path(__file__).resolve().parents[1] / "tests" / "analyzers" / "llm_servers.py"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(latency_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.proc.stdout is not None
        self.base_url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1"

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def server_latency_s(server: ServerProcess, n: int = 20) -> float:
    """Median latency of sequential streamed requests from a plain client (no arm)."""
    body = json.dumps(
        {
            "model": "m",
            "stream": True,
            "messages": [{"role": "user", "content": "Tool: ok-probe"}],
        }
    ).encode()
    times = []
    for _ in range(n):
        req = urllib.request.Request(
            f"{server.base_url}/chat/completions",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=10) as resp:
            resp.read()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_batch(server: ServerProcess, concurrency: int, n: int) -> float:
    """Calls per second of one batch of ``n`` tools at a fixed concurrency."""
    tools = [ToolInput(name=f"ok-{concurrency}-{i}", sections=SECTIONS) for i in range(n)]
    arm = LLMAnalyzer(
        base_url=server.base_url,
        model="bench-model",
        cache="off",
        concurrency=concurrency,
        min_concurrency=concurrency,
        max_concurrency=concurrency,
    )
    with arm:
        arm.analyze(ToolInput(name="ok-warmup", sections=SECTIONS))  # connection, imports
        t0 = time.perf_counter()
        results = asyncio.run(arm.analyze_batch_async(tools))
        wall = time.perf_counter() - t0
    bad = [r for r in results if r.status is not Status.OK]
    if bad:
        raise RuntimeError(f"{len(bad)} failed calls, e.g. {bad[0].error}")
    return n / wall


def bench_throughput(concurrency: int, rounds: int = 3) -> dict[str, Any]:
    server = ServerProcess(LATENCY_S)
    try:
        n = concurrency * 20
        rates, bounds = [], []
        for _ in range(rounds):
            latency = server_latency_s(server)
            bounds.append(concurrency / latency)
            rates.append(run_batch(server, concurrency, n))
        ratios = [r / b for r, b in zip(rates, bounds, strict=True)]
    finally:
        server.stop()
    return {
        "name": f"llm arm calls/s vs concurrency/latency bound (concurrency {concurrency})",
        "unit": "calls/s",
        "server": f"llm_servers.py in its own process, fixed latency {LATENCY_S * 1e3:g} ms",
        "calls_per_round": n,
        "candidate_median": statistics.median(rates),  # achieved calls/s
        "baseline_median": statistics.median(bounds),  # concurrency / latency
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "repeats": rounds,
        "target_ratio": 0.9,
    }


def main() -> list[dict[str, Any]]:
    results = [bench_throughput(c) for c in (4, 8, 16)]
    save("llm", results)
    return results


if __name__ == "__main__":
    from _harness import report

    report(main())
