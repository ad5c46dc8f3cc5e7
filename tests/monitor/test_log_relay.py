"""The pool-process log relay and the LLM counts hand-over, with real ``forkserver`` processes."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, wait

import pytest

from tcplab.monitor import (
    LLMCounts,
    LogRelay,
    llm_collectors,
    merge_llm_counts,
    record_llm_request,
    relay_child_logs,
    take_llm_counts,
)

from .helpers import KeepHandler, keep_records

LINES = 5000  # far more than a pipe holds (~64 KiB): the parent must drain while waiting


def _chatty(n: int) -> tuple[int, LLMCounts | None]:
    log = logging.getLogger("tcplab.test.relay")
    for i in range(n):
        log.info("line %d from %d", i, os.getpid())
    log.debug("never sent: below the parent's level")
    record_llm_request("m-relay", "ok", 0.2)
    record_llm_request("m-relay", "rate_limited", 3.0)
    return os.getpid(), take_llm_counts()


@pytest.fixture
def kept() -> Iterator[KeepHandler]:
    with keep_records("tcplab.test.relay") as handler:
        yield handler


def test_child_records_are_handled_on_the_waiting_thread(kept: KeepHandler) -> None:
    mp = multiprocessing.get_context("forkserver")
    relay = LogRelay(mp)
    pool = ProcessPoolExecutor(
        2, mp_context=mp, initializer=relay_child_logs, initargs=relay.child_args()
    )
    before = take_llm_counts()  # what this process counted so far is not part of the check
    try:
        futs = [pool.submit(_chatty, LINES) for _ in range(2)]
        pending = set(futs)
        while pending:
            _, pending = wait(pending, timeout=0.25)
            relay.drain()
        results = [f.result() for f in futs]
        relay.drain()
    finally:
        with relay.draining():
            pool.shutdown(wait=True)
        relay.close()
    merge_llm_counts(before)
    messages = [m for m, _ in kept.seen]
    for pid, _ in results:
        assert sum(m.endswith(f"from {pid}") for m in messages) == LINES
    assert {t for _, t in kept.seen} == {threading.get_ident()}
    assert not any("never sent" in m for m in messages)

    counts = [c for _, c in results]
    rows = [r for c in counts if c for r in c.rows]
    pairs = sorted((r.outcome, r.count) for r in rows)
    assert pairs == [("ok", 1), ("ok", 1), ("rate_limited", 1), ("rate_limited", 1)]
    for c in counts:
        merge_llm_counts(c)
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    for collector in llm_collectors():
        registry.register(collector)
    text = generate_latest(registry).decode()
    assert 'tcplab_llm_requests_total{model="m-relay",outcome="ok"} 2.0' in text
    assert 'tcplab_llm_requests_total{model="m-relay",outcome="rate_limited"} 2.0' in text
    assert (
        'tcplab_llm_request_duration_seconds_bucket{le="0.25",model="m-relay",outcome="ok"} 2.0'
        in text
    )
    assert (
        'tcplab_llm_request_duration_seconds_bucket{le="2.0",model="m-relay",'
        'outcome="rate_limited"} 0.0' in text
    )
    assert (
        'tcplab_llm_request_duration_seconds_sum{model="m-relay",outcome="rate_limited"} 6.0'
        in text
    )
