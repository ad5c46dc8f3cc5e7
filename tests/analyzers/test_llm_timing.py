"""The llm arm's latency measures the server, or the run says it could not.

The fault server reports its own time for every request (``X-Server-Latency-Ns``). These
are correctness checks, not performance figures (those are in ``bench/bench_llm.py``): the
recorded service time must enclose the server's, and be within 10% of it unless the arm
raised its saturation warning for those calls.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tcplab.analyzers import Status, ToolInput, default_registry
from tcplab.analyzers.llm import LLMAnalyzer
from tcplab.analyzers.llm._saturation import (
    SaturationPolicy,
    WindowStats,
    saturation_warning,
    window_stats,
)
from tests.analyzers.llm_servers import FaultServer

DOC = {"NAME": "tool - does things", "DESCRIPTION": "Does things to FILE."}
LATENCY_S = 0.05


@pytest.fixture
def server() -> Iterator[FaultServer]:
    srv = FaultServer(latency_s=LATENCY_S, keep_alive=True).start()
    yield srv
    srv.stop()


def arm(server: FaultServer, concurrency: int, **params: Any) -> LLMAnalyzer:
    return LLMAnalyzer(
        base_url=server.base_url,
        model="fault-model",
        cache="off",
        timeout_s=20.0,
        concurrency=concurrency,
        min_concurrency=concurrency,
        max_concurrency=concurrency,
        **params,
    )


def run_batch(a: LLMAnalyzer, names: list[str], warm: int = 1) -> tuple[list[Any], list[str]]:
    """Assessments for ``names`` and the warnings raised for exactly these calls.

    ``warm`` calls at once first open that many kept-alive connections: the server's clock
    starts when it accepts a connection, and a Python server accepting 64 at once takes
    longer than 10% of 50 ms to get to the last one, which is the server's time, not the
    client's (the test would only show the warning).
    """
    warmup = [ToolInput(name=f"ok-warmup-{i}", sections=DOC) for i in range(warm)]
    asyncio.run(a.analyze_batch_async(warmup))
    a.drain_warnings()
    results = asyncio.run(a.analyze_batch_async([ToolInput(name=n, sections=DOC) for n in names]))
    return results, a.drain_warnings()


@pytest.mark.parametrize("concurrency", [1, 4, 16, 64])
def test_recorded_latency_is_the_servers_or_a_warning_says_otherwise(
    server: FaultServer, concurrency: int
) -> None:
    calls = max(8, concurrency)  # at least one full wave
    with arm(server, concurrency) as a:
        names = [f"ok-{concurrency}-{i}" for i in range(calls)]
        results, warnings = run_batch(a, names, warm=concurrency)
    assert [r.status for r in results] == [Status.OK] * calls
    ratios = []
    for r in results:
        t = r.timing
        assert t.server_ns is not None and t.server_ns >= LATENCY_S * 1e9
        # the client's interval encloses the server's: same clock, same machine
        assert t.server_ns <= t.service_ns <= t.total_ns
        assert t.queue_wait_ns + t.service_ns <= t.total_ns
        ratios.append(t.service_ns / t.server_ns)
    over = sum(x > 1.1 for x in ratios)
    if warnings:  # the client (or the machine) could not keep up, and the run says so
        (warning,) = warnings
        assert "llm" in warning
        assert over == 0 or f"{over} of {calls} call(s)" in warning
    else:
        assert max(ratios) <= 1.1, ratios


def test_a_starved_client_raises_the_saturation_warning(server: FaultServer) -> None:
    # A thread spinning in pure Python keeps the GIL for a whole switch interval (20 ms
    # here): every answer waits for it before it is timed, as with a busy client.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(1000))

    interval = sys.getswitchinterval()
    with arm(server, 4) as a:
        a.analyze(ToolInput(name="ok-warmup", sections=DOC))
        a.drain_warnings()
        sys.setswitchinterval(0.02)
        spinner = threading.Thread(target=spin, daemon=True)
        spinner.start()
        try:
            tools = [ToolInput(name=f"ok-{i}", sections=DOC) for i in range(24)]
            results = asyncio.run(a.analyze_batch_async(tools))
            warnings = a.drain_warnings()
        finally:
            stop.set()
            spinner.join()
            sys.setswitchinterval(interval)
        info = a.describe()["saturation"]
    assert all(r.status is Status.OK for r in results)
    (warning,) = warnings
    assert "llm client saturated" in warning and "event-loop delay p90" in warning
    assert info["warnings"] >= 1 and info["last_window"]["calls"] == 24
    assert a.drain_warnings() == []  # drained: nothing new since


def test_drain_warnings_defaults_to_none_and_the_arm_starts_clean(server: FaultServer) -> None:
    assert default_registry().create("fake").drain_warnings() == []
    with arm(server, 1) as a:
        assert a.drain_warnings() == []


def test_connections_are_kept_alive_and_replaced_when_dropped(server: FaultServer) -> None:
    server.latency_s = 0.0
    with arm(server, 1) as a:
        first = [a.analyze(ToolInput(name=f"ok-{i}", sections=DOC)) for i in range(10)]
        assert server.connections == 1  # one connection for ten sequential calls
        server.drop_connections()
        again = a.analyze(ToolInput(name="ok-after", sections=DOC))
    assert all(r.status is Status.OK for r in [*first, again])
    assert again.attempts == 1 and server.connections == 2


def _stats(**kw: Any) -> WindowStats:
    base: dict[str, Any] = {
        "calls": 100,
        "service_median_ns": 50_000_000,
        "probes": 100,
        "loop_delay_p90_ns": 200_000,
        "server_calls": 0,
        "over_server": 0,
        "overhead_median_ns": None,
        "overhead_max_ratio": None,
    }
    return WindowStats(**(base | kw))


def test_saturation_rules() -> None:
    policy = SaturationPolicy()
    assert saturation_warning(_stats(), policy) is None
    # loop delay: p90 over 5% of the median service time
    busy = saturation_warning(_stats(loop_delay_p90_ns=3_000_000), policy)
    assert busy is not None and busy.startswith("llm client saturated")
    assert saturation_warning(_stats(loop_delay_p90_ns=2_400_000), policy) is None
    # too few samples say nothing
    assert saturation_warning(_stats(loop_delay_p90_ns=9e6, probes=4), policy) is None
    assert saturation_warning(_stats(loop_delay_p90_ns=9e6, calls=2), policy) is None
    # server-reported latency: a single call more than 10% slower is reported
    pairs = [(52_000_000, 50_000_000)] * 99 + [(56_000_000, 50_000_000)]
    one_slow = window_stats([s for s, _ in pairs], pairs, [100_000] * 50, policy)
    assert one_slow.over_server == 1 and one_slow.overhead_median_ns == 2_000_000
    text = saturation_warning(one_slow, policy)
    assert text is not None and "1 of 100 call(s)" in text and "outside the client" in text
    faithful = window_stats([s for s, _ in pairs[:99]], pairs[:99], [100_000] * 50, policy)
    assert saturation_warning(faithful, policy) is None
