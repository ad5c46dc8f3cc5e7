"""LLM arm throughput and latency fidelity against a local server with a fixed latency.

The server is the test suite's fault server (``tests/analyzers/llm_servers.py``), run in its
own process, answering every request after a fixed delay (50 ms): a stand-in for a model
server, so the figures measure the arm's own overhead (HTTP client, parsing, limiter,
bookkeeping), not a model.

Two figures per concurrency (4, 8, 16, 64):

* **Throughput ratio:** achieved calls/s ÷ (concurrency / latency), where the latency is the
  median of sequential requests sent by a plain HTTP client (no arm), measured in the same
  round. Target at concurrency 16: ≥ 0.9.
* **Latency fidelity:** each call's recorded service time ÷ the latency the server reported
  for it (``X-Server-Latency-Ns``): median, 95th percentile and maximum. Target: ≤ 1.1, or a
  client-saturation warning from ``drain_warnings()`` (counted per round).

A row at concurrency 16 through ``transport=sdk`` (the official openai SDK, the arm's previous
path) is the in-run comparison; one with ``stream=true`` shows the cost of streaming.

Run: ``.venv/bin/python bench/bench_llm.py`` (about 2 minutes on 2 cores).
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
    """Median latency of sequential requests from a plain client (no arm)."""
    body = json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": "Tool: ok-probe"}]}
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


def run_batch(
    server: ServerProcess, concurrency: int, n: int, params: dict[str, Any]
) -> tuple[float, list[float], list[str]]:
    """One batch of ``n`` tools at a fixed concurrency.

    Returns calls/s, each call's recorded service time ÷ the server-reported latency, and
    the saturation warnings the arm raised for the batch.
    """
    tools = [ToolInput(name=f"ok-{concurrency}-{i}", sections=SECTIONS) for i in range(n)]
    arm = LLMAnalyzer(
        base_url=server.base_url,
        model="bench-model",
        cache="off",
        concurrency=concurrency,
        min_concurrency=concurrency,
        max_concurrency=concurrency,
        **params,
    )
    with arm:
        arm.analyze(ToolInput(name="ok-warmup", sections=SECTIONS))  # connection, imports
        arm.drain_warnings()
        t0 = time.perf_counter()
        results = asyncio.run(arm.analyze_batch_async(tools))
        wall = time.perf_counter() - t0
        warnings = arm.drain_warnings()
    bad = [r for r in results if r.status is not Status.OK]
    if bad:
        raise RuntimeError(f"{len(bad)} failed calls, e.g. {bad[0].error}")
    fidelity = [r.timing.service_ns / r.timing.server_ns for r in results if r.timing.server_ns]
    return n / wall, fidelity, warnings


def _quantile(values: list[float], q: float) -> float | None:
    """The ``q`` quantile (nearest rank), None without values (the SDK path reports none)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench(concurrency: int, rounds: int = 3, **params: Any) -> dict[str, Any]:
    """Throughput ratio and latency fidelity at one concurrency (``rounds`` interleaved)."""
    server = ServerProcess(LATENCY_S)
    try:
        n = concurrency * 20 if concurrency < 64 else concurrency * 10
        rates, bounds, fidelity, warned = [], [], [], 0
        for _ in range(rounds):
            latency = server_latency_s(server)
            bounds.append(concurrency / latency)
            rate, ratios, warnings = run_batch(server, concurrency, n, params)
            rates.append(rate)
            fidelity += ratios
            warned += bool(warnings)
        throughput = [r / b for r, b in zip(rates, bounds, strict=True)]
    finally:
        server.stop()
    label = "".join(f", {k}={v}" for k, v in params.items())
    return {
        "name": f"llm arm calls/s vs concurrency/latency (concurrency {concurrency}{label})",
        "unit": "calls/s",
        "server": f"llm_servers.py in its own process, fixed latency {LATENCY_S * 1e3:g} ms",
        "calls_per_round": n,
        "candidate_median": statistics.median(rates),  # achieved calls/s
        "baseline_median": statistics.median(bounds),  # concurrency / latency
        "ratio_median": statistics.median(throughput),
        "ratio_min": min(throughput),
        "ratio_max": max(throughput),
        "repeats": rounds,
        "target_ratio": 0.9,
        "recorded_vs_server_median": _quantile(fidelity, 0.5),
        "recorded_vs_server_p95": _quantile(fidelity, 0.95),
        "recorded_vs_server_max": _quantile(fidelity, 1.0),
        "recorded_vs_server_target": 1.1,
        "rounds_with_saturation_warning": warned,
    }


def main() -> list[dict[str, Any]]:
    results = [bench(c) for c in (4, 8, 16, 64)]
    results.append(bench(16, stream=True))
    results.append(bench(16, rounds=2, transport="sdk"))
    save("llm", results)
    return results


if __name__ == "__main__":
    from _harness import report

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    for row in main():
        report([row])
        print(
            f"{'':<50} recorded/server latency median {fmt(row['recorded_vs_server_median'])}, "
            f"p95 {fmt(row['recorded_vs_server_p95'])}, max {fmt(row['recorded_vs_server_max'])};"
            f" saturation warning in {row['rounds_with_saturation_warning']} of "
            f"{row['repeats']} rounds"
        )
