"""LLM arm throughput and latency fidelity against a local server with a fixed latency.

The server is the test suite's fault server (``tests/analyzers/llm_servers.py``), run in its
own process, answering every request after a fixed delay (50 ms): a stand-in for a model
server, so the figures measure the arm's own overhead (HTTP client, parsing, limiter,
bookkeeping), not a model. It keeps connections alive (HTTP/1.1), as vLLM, llama.cpp,
Ollama and OpenAI do; one row uses it in HTTP/1.0 mode (a new connection per request).

Per concurrency (4, 8, 16, 64):

* **Throughput ratio:** achieved calls/s ÷ (concurrency / latency), where the latency is the
  median of sequential requests sent by a plain ``http.client`` client (no arm), measured in
  the same round. Target at concurrency 16: ≥ 0.9. The same plain client driven by as many
  threads as the concurrency gives the reference ratio on this machine at that moment.
* **Latency fidelity:** each call's recorded service time ÷ the latency the server reported
  for it (``X-Server-Latency-Ns``): median, 95th percentile and maximum. Target: ≤ 1.1, or a
  saturation warning from ``drain_warnings()`` (the number of rounds with one is reported).

A row at concurrency 16 through ``transport=sdk`` (the official openai SDK, the arm's previous
path) is the in-run comparison; one with ``stream=true`` shows the cost of streaming.

Run: ``.venv/bin/python bench/bench_llm.py`` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from _harness import save
from tcplab.analyzers import Status, ToolInput
from tcplab.analyzers.llm import LLMAnalyzer, LLMConfig, load_template
from tcplab.analyzers.llm._answers import build_request

LATENCY_S = 0.05
SECTIONS = {"NAME": "ls - list directory contents", "DESCRIPTION": "List FILEs. " * 40}
Row = dict[str, Any]


class ServerProcess:
    """The fault server in a child process (so it does not share this process's GIL)."""

    def __init__(self, latency_s: float, keep_alive: bool) -> None:
        script = Path(__file__).resolve().parents[1] / "tests" / "analyzers" / "llm_servers.py"
        mode = ["keep-alive"] if keep_alive else []
        self.proc = subprocess.Popen(
            [sys.executable, str(script), str(latency_s), *mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.keep_alive = keep_alive

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


class PlainClient:
    """A plain blocking client (``http.client``): one persistent connection per thread when
    the server keeps connections alive, else a new connection per request. It sends the
    arm's own request body, so the server does the same work for both."""

    BODY = json.dumps(
        build_request(
            LLMConfig(model="bench-model"),
            load_template("risk-v1").messages(ToolInput(name="ok-plain", sections=SECTIONS)),
        )
    ).encode()

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self._local = threading.local()

    def call(self, _: object = None) -> float:
        """One request; its latency in seconds."""
        conn = getattr(self._local, "conn", None)
        t0 = time.perf_counter()
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
            if self.server.keep_alive:
                self._local.conn = conn
        conn.request(
            "POST", "/v1/chat/completions", self.BODY, {"Content-Type": "application/json"}
        )
        conn.getresponse().read()
        if not self.server.keep_alive:
            conn.close()
        return time.perf_counter() - t0

    def latency_s(self, n: int = 20) -> float:
        """Median latency of ``n`` sequential requests (the bound's denominator)."""
        return statistics.median(self.call() for _ in range(n))

    def rate(self, concurrency: int, n: int) -> float:
        """Calls per second of ``n`` requests from ``concurrency`` threads."""
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(self.call, range(concurrency)))  # open the connections
            t0 = time.perf_counter()
            list(pool.map(self.call, range(n)))
            return n / (time.perf_counter() - t0)


def run_batch(
    server: ServerProcess, concurrency: int, n: int, params: dict[str, Any]
) -> tuple[float, list[float], list[str]]:
    """One batch of ``n`` tools at a fixed concurrency.

    Returns calls/s, each call's recorded service time ÷ the server-reported latency, and
    the saturation warnings the arm raised for the batch.
    """
    tools = [ToolInput(name=f"ok-{concurrency}-{i}", sections=SECTIONS) for i in range(n)]
    warm = [ToolInput(name=f"ok-warm-{i}", sections=SECTIONS) for i in range(concurrency)]
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
        asyncio.run(arm.analyze_batch_async(warm))  # imports, and one connection per slot
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


def bench(concurrency: int, *, keep_alive: bool = True, rounds: int = 3, **params: Any) -> Row:
    """Throughput ratio and latency fidelity at one concurrency (``rounds`` rounds).

    Each round measures the plain client's sequential latency (the bound), the arm's rate,
    and the plain client's rate at the same concurrency, in that order.
    """
    server = ServerProcess(LATENCY_S, keep_alive)
    plain = PlainClient(server)
    try:
        n = concurrency * 20 if concurrency < 64 else concurrency * 10
        rates, bounds, plain_rates, fidelity, warned = [], [], [], [], []
        for _ in range(rounds):
            bounds.append(concurrency / plain.latency_s())
            rate, ratios, warnings = run_batch(server, concurrency, n, params)
            rates.append(rate)
            plain_rates.append(plain.rate(concurrency, n))
            fidelity += ratios
            warned += warnings
        throughput = [r / b for r, b in zip(rates, bounds, strict=True)]
        plain_ratio = [r / b for r, b in zip(plain_rates, bounds, strict=True)]
    finally:
        server.stop()
    label = "".join(f", {k}={v}" for k, v in params.items())
    label += "" if keep_alive else ", HTTP/1.0 server"
    return {
        "name": f"llm arm calls/s vs concurrency/latency (concurrency {concurrency}{label})",
        "unit": "calls/s",
        "server": (
            f"llm_servers.py in its own process, fixed latency {LATENCY_S * 1e3:g} ms, "
            + ("HTTP/1.1 keep-alive" if keep_alive else "HTTP/1.0 (a connection per request)")
        ),
        "calls_per_round": n,
        "candidate_median": statistics.median(rates),  # achieved calls/s
        "baseline_median": statistics.median(bounds),  # concurrency / latency
        "ratio_median": statistics.median(throughput),
        "ratio_min": min(throughput),
        "ratio_max": max(throughput),
        "repeats": rounds,
        "target_ratio": 0.9,
        "plain_client_ratio_median": statistics.median(plain_ratio),
        "recorded_vs_server_median": _quantile(fidelity, 0.5),
        "recorded_vs_server_p95": _quantile(fidelity, 0.95),
        "recorded_vs_server_max": _quantile(fidelity, 1.0),
        "recorded_vs_server_target": 1.1,
        "rounds_with_saturation_warning": len(warned),
        "saturation_warnings": warned,
    }


def main() -> list[Row]:
    results = [bench(c) for c in (4, 8, 16, 64)]
    results.append(bench(16, keep_alive=False))
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
            f"{'':<50} plain threaded client ratio {row['plain_client_ratio_median']:.3f}; "
            f"recorded/server latency median {fmt(row['recorded_vs_server_median'])}, "
            f"p95 {fmt(row['recorded_vs_server_p95'])}, max {fmt(row['recorded_vs_server_max'])};"
            f" saturation warning in {row['rounds_with_saturation_warning']} of "
            f"{row['repeats']} rounds"
        )
        for warning in row["saturation_warnings"][:1]:
            print(f"{'':<50} e.g. {warning}")
