"""The llm arm against a real local HTTP server that injects faults (llm_servers.py)."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcplab.analyzers import Status, ToolInput, default_registry
from tcplab.analyzers.llm import LLMAnalyzer
from tcplab.corpus import ToolDoc, write_corpus
from tcplab.descriptor import RiskLevel
from tests.analyzers.llm_servers import FaultServer
from tests.conftest import Runner, in_ci

HAVE_SDK = importlib.util.find_spec("openai") is not None

DOC = {
    "NAME": "tool - does things",
    "SYNOPSIS": "tool [OPTION]... FILE",
    "DESCRIPTION": "Does things to FILE.",
    "OPTIONS": "-f  force",
}


@pytest.fixture
def server() -> Iterator[FaultServer]:
    srv = FaultServer(hang_s=2.0).start()
    yield srv
    srv.stop()


@pytest.fixture
def keep_alive_server() -> Iterator[FaultServer]:
    srv = FaultServer(hang_s=2.0, keep_alive=True).start()
    yield srv
    srv.stop()


def need(transport: str) -> str:
    """``transport``, after skipping (failing in CI) when it is ``sdk`` and openai is missing."""
    if transport == "sdk" and not HAVE_SDK:  # pragma: no cover - environment dependent
        if in_ci():
            pytest.fail("transport=sdk needs 'openai' (pip install 'tcplab[llm]')")
        pytest.skip("openai is not installed")
    return transport


def arm(server: FaultServer, **params: Any) -> LLMAnalyzer:
    opts: dict[str, Any] = {
        "base_url": server.base_url,
        "model": "fault-model",
        "cache": "off",
        "backoff_base": 0.01,
        "timeout_s": 2.0,
        "max_retries": 2,
        "jitter_seed": 1,
    }
    opts.update(params)
    return LLMAnalyzer(**opts)


def tool(name: str) -> ToolInput:
    return ToolInput(name=name, sections=DOC)


def test_registry_creates_the_llm_arm(server: FaultServer) -> None:
    a = default_registry().create("llm", base_url=server.base_url, model="m", cache="off")
    assert isinstance(a, LLMAnalyzer)


@pytest.mark.parametrize("transport", ["http", "sdk"])
@pytest.mark.parametrize("stream", [False, True])
def test_valid_answer_records_usage_timing_identity_and_request(
    server: FaultServer, transport: str, stream: bool
) -> None:
    with arm(server, transport=need(transport), stream=stream) as a:
        res = a.analyze(tool("ok-rm"))
        info = a.describe()
    assert res.status is Status.OK
    assert res.risk_level is RiskLevel.CRITICAL
    assert res.capabilities == ("DESTRUCTIVE", "FILE_MODIFICATION")
    assert res.attempts == 1
    assert (res.usage.prompt_tokens, res.usage.completion_tokens) == (1000, 100)
    assert res.model.model_id == "fault-model-2024-01-01"
    assert res.model.version == "fp_fault_1"
    t = res.timing
    assert 0 < t.service_ns <= t.total_ns
    assert (t.ttft_ns is not None) is stream
    if t.ttft_ns is not None:
        assert 0 < t.ttft_ns <= t.service_ns
    if transport == "http":  # the server's own latency, from its header
        assert t.server_ns is not None and 0 < t.server_ns <= t.service_ns
    assert t.backoff_wait_ns == 0
    assert t.queue_wait_ns + t.service_ns <= t.total_ns
    assert not res.cache.hit
    (req,) = server.requests
    assert req["temperature"] == 0 and req["seed"] == 0 and req["max_tokens"] == 512
    assert req["response_format"]["type"] == "json_schema"
    if stream:
        assert req["stream"] is True and req["stream_options"] == {"include_usage": True}
    else:
        assert not req.get("stream") and "stream_options" not in req
    assert "HIGH_RISK: changes permissions" in req["messages"][0]["content"]
    assert "PRIVILEGE_ESCALATION" in req["messages"][0]["content"]
    assert "DESCRIPTION\nDoes things to FILE." in req["messages"][1]["content"]
    assert info["prompt"]["version"] == "risk-v1"
    assert info["sampling"] == {"temperature": 0.0, "seed": 0, "max_tokens": 512}
    assert info["transport"] == transport and info["stream"] is stream


@pytest.mark.parametrize("structured", ["json_object", "none"])
def test_structured_modes_and_sampling_params_are_sent(
    server: FaultServer, structured: str
) -> None:
    with arm(server, structured=structured, temperature=0.7, seed=42, max_tokens=64) as a:
        assert a.analyze(tool("ok-ls")).status is Status.OK
    (req,) = server.requests
    assert (req["temperature"], req["seed"], req["max_tokens"]) == (0.7, 42, 64)
    if structured == "none":
        assert "response_format" not in req
    else:
        assert req["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("stream", [True, False])
def test_parse_failures_keep_raw_output_and_never_map_to_a_class(
    server: FaultServer, stream: bool
) -> None:
    with arm(server, stream=stream) as a:
        garbage = a.analyze(tool("garbage-x"))
        badlevel = a.analyze(tool("badlevel-x"))
        fenced = a.analyze(tool("fence-ls"))
    for res in (garbage, badlevel):
        assert res.status is Status.PARSE_FAILURE
        assert res.risk_level is RiskLevel.UNKNOWN
        assert res.raw_output
        assert res.decision.value == "REQUIRE_APPROVAL"
        assert res.attempts == 1  # a parse failure is an answer, not retried
    assert "EXTREME" in (badlevel.error or "")
    assert fenced.status is Status.OK and fenced.risk_level is RiskLevel.SAFE
    assert (fenced.timing.ttft_ns is not None) is stream


def test_refusals(server: FaultServer) -> None:
    with arm(server) as a:
        refused = a.analyze(tool("refuse-x"))
        filtered = a.analyze(tool("filter-x"))
    assert refused.status is Status.REFUSED and "can't help" in (refused.error or "")
    assert filtered.status is Status.REFUSED and "content_filter" in (filtered.error or "")
    assert refused.risk_level is RiskLevel.UNKNOWN


def test_retries_then_success_keep_backoff_apart_from_service(server: FaultServer) -> None:
    with arm(server, backoff_base=0.05) as a:
        res = a.analyze(tool("flaky500-2-ls"))
    assert res.status is Status.OK
    assert res.attempts == 3 == server.attempts["flaky500-2-ls"]
    t = res.timing
    # two backoffs: uniform(0.5, 1) × 0.05 s and × 0.1 s
    assert 0.07e9 <= t.backoff_wait_ns <= 0.5e9
    assert t.backoff_wait_ns + t.service_ns + t.queue_wait_ns <= t.total_ns
    assert t.service_ns < t.total_ns - t.backoff_wait_ns + 1


def test_retry_after_is_honoured(server: FaultServer) -> None:
    with arm(server, backoff_base=0.001) as a:
        res = a.analyze(tool("ra-1-ls"))
    assert res.status is Status.OK and res.attempts == 2
    assert res.timing.backoff_wait_ns >= 0.95e9  # Retry-After: 1, not the 1 ms backoff
    assert res.timing.service_ns < 0.5e9


def test_sdk_retries_are_disabled(server: FaultServer) -> None:
    with arm(server, max_retries=0, transport=need("sdk")) as a:
        res = a.analyze(tool("e500-x"))
    assert res.status is Status.ERROR and res.attempts == 1
    assert server.attempts["e500-x"] == 1


@pytest.mark.parametrize(
    ("name", "attempts", "fragment"),
    [
        ("e500-x", 3, "HTTP 500"),
        ("r429-x", 3, "HTTP 429"),
        ("e400-x", 1, "HTTP 400"),  # client errors are not retried
        ("trunc-x", 3, "malformed response"),
    ],
)
@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_final_failures_are_errors(
    server: FaultServer, name: str, attempts: int, fragment: str, stream: bool, transport: str
) -> None:
    with arm(server, stream=stream, transport=need(transport)) as a:
        res = a.analyze(tool(name))
    assert res.status is Status.ERROR
    assert res.attempts == attempts == server.attempts[name]
    assert fragment in (res.error or "")
    assert res.risk_level is RiskLevel.UNKNOWN


def test_all_attempts_timing_out_is_timeout(server: FaultServer) -> None:
    with arm(server, timeout_s=0.3, max_retries=1) as a:
        res = a.analyze(tool("hang-x"))
        recovered = a.analyze(tool("flakyhang-1-ls"))
    assert res.status is Status.TIMEOUT and res.attempts == 2
    assert 0.55e9 <= res.timing.service_ns < 1.5e9
    assert recovered.status is Status.OK and recovered.attempts == 2


@pytest.mark.parametrize(("keep_alive", "stream"), [(False, False), (True, False), (True, True)])
def test_mixed_batch_finishes_with_one_assessment_per_tool(
    request: pytest.FixtureRequest, keep_alive: bool, stream: bool
) -> None:
    server: FaultServer = request.getfixturevalue("keep_alive_server" if keep_alive else "server")
    names = [
        "ok-ls", "ok-rm", "garbage-a", "refuse-a", "e500-a", "flaky429-1-a", "hang-a",
        "trunc-a", "fence-a", "badlevel-a", "e400-a", "flaky500-1-a", "nousage-a", "filter-a",
    ] * 2  # fmt: skip
    names = [f"{n}{i}" for i, n in enumerate(names)]
    expected = {
        "ok": Status.OK, "garbage": Status.PARSE_FAILURE, "refuse": Status.REFUSED,
        "e500": Status.ERROR, "flaky429": Status.OK, "hang": Status.TIMEOUT,
        "trunc": Status.ERROR, "fence": Status.OK, "badlevel": Status.PARSE_FAILURE,
        "e400": Status.ERROR, "flaky500": Status.OK, "nousage": Status.OK,
        "filter": Status.REFUSED,
    }  # fmt: skip
    with arm(server, timeout_s=0.3, max_retries=1, concurrency=8, stream=stream) as a:
        results = asyncio.run(a.analyze_batch_async([tool(n) for n in names]))
    assert [r.tool for r in results] == names
    for r in results:
        assert r.status is expected[r.tool.split("-")[0]], (r.tool, r.error)
    if keep_alive:  # connections were reused (failed ones are closed and replaced)
        assert server.connections < len(server.requests)


def test_aimd_cuts_on_429_and_grows_on_clean_completions(server: FaultServer) -> None:
    with arm(server, concurrency=8, max_retries=1) as a:
        asyncio.run(a.analyze_batch_async([tool(f"r429-{i}") for i in range(16)]))
        shrunk = a.describe()["concurrency"]
    assert shrunk["cuts"] >= 2 and shrunk["current"] <= 4
    with arm(server, concurrency=2, grow_after=2, max_concurrency=5) as a:
        asyncio.run(a.analyze_batch_async([tool(f"ok-{i}") for i in range(20)]))
        grown = a.describe()["concurrency"]
    assert grown["growths"] >= 1 and 2 < grown["current"] <= 5
    assert grown["peak_in_flight"] <= 5


def test_queue_wait_is_measured(server: FaultServer) -> None:
    server.latency_s = 0.1
    with arm(server, concurrency=1, max_concurrency=1, min_concurrency=1) as a:
        results = asyncio.run(a.analyze_batch_async([tool(f"ok-{i}") for i in range(3)]))
    waits = sorted(r.timing.queue_wait_ns for r in results)
    assert waits[0] < 0.05e9 and waits[2] >= 0.15e9
    assert server.peak_in_flight == 1


def test_cache_hit_flags_original_latency(server: FaultServer, tmp_path: Path) -> None:
    db = tmp_path / "llm.sqlite"
    server.latency_s = 0.05
    with arm(server, cache=str(db)) as a:
        first = a.analyze(tool("ok-rm"))
    with arm(server, cache=str(db)) as a:
        again = a.analyze(tool("ok-rm"))
        other = a.analyze(tool("ok-ls"))
        assert a.describe()["stats"]["cache_hits"] == 1
    with arm(server, cache=str(db), temperature=0.5) as a:
        changed = a.analyze(tool("ok-rm"))
    assert not first.cache.hit and not other.cache.hit and not changed.cache.hit
    assert again.cache.hit and again.cache.original_latency_ns == first.timing.total_ns
    assert again.timing.total_ns < first.timing.total_ns and again.timing.ttft_ns is None
    assert (again.status, again.risk_level, again.raw_output) == (
        first.status,
        first.risk_level,
        first.raw_output,
    )
    assert again.usage == first.usage and again.model == first.model
    assert server.attempts["ok-rm"] == 2  # the original and the temperature=0.5 request


def test_default_cache_lives_in_tcplab_home(server: FaultServer, isolated_home: Path) -> None:
    opts = {"base_url": server.base_url, "model": "m", "backoff_base": 0.01}
    with LLMAnalyzer(**opts) as a:
        a.analyze(tool("ok-ls"))
    with LLMAnalyzer(**opts) as a:
        assert a.analyze(tool("ok-ls")).cache.hit
    assert (isolated_home / "cache" / "llm.sqlite").exists()


def test_cost_from_price_table(server: FaultServer, tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("version: t\nmodels:\n  fault-model: {input: 2.0, output: 8.0}\n")
    with arm(server, prices=str(prices)) as a:
        priced = a.analyze(tool("ok-ls"))
        assert "cost_note" not in a.describe()
    with arm(server, model="unknown-model") as a:
        unknown = a.analyze(tool("ok-ls"))
        note = a.describe()["cost_note"]
    assert priced.usage.cost_usd == pytest.approx((1000 * 2.0 + 100 * 8.0) / 1e6)
    assert unknown.usage.cost_usd is None and "unknown" in note


def test_missing_usage_is_zero_and_described(server: FaultServer) -> None:
    with arm(server) as a:
        res = a.analyze(tool("nousage-ls"))
        info = a.describe()
    assert res.status is Status.OK
    assert (res.usage.prompt_tokens, res.usage.completion_tokens) == (0, 0)
    assert "without usage" in info["usage_note"]


def test_budgets_are_applied_and_recorded(server: FaultServer) -> None:
    with arm(server, rpm=600, tpm=1_000_000) as a:
        results = [a.analyze(tool(f"ok-{i}")) for i in range(3)]
        assert a.describe()["budgets"] == {"rpm": 600.0, "tpm": 1_000_000.0}
    assert all(r.status is Status.OK for r in results)


def test_async_entry_point_from_a_caller_loop(server: FaultServer) -> None:
    async def main() -> list[Status]:
        with arm(server) as a:
            return [(await a.analyze_async(tool(n))).status for n in ("ok-ls", "garbage-x")]

    assert asyncio.run(main()) == [Status.OK, Status.PARSE_FAILURE]


def _corpus(tmp_path: Path, names: list[str]) -> Path:
    rows = [
        ToolDoc(
            name=n,
            path=f"/usr/bin/{n}",
            real_path=f"/usr/bin/{n}",
            package=None,
            man_section="1",
            man_path=None,
            doc_source="man",
            sections=dict(DOC),
            doc_text="\n".join(DOC.values()),
        )
        for n in names
    ]
    return write_corpus(rows, tmp_path / "corpus.parquet")


def test_console_script_against_fault_server(
    server: FaultServer, tcplab: Runner, tmp_path: Path
) -> None:
    corpus = _corpus(tmp_path, ["ok-ls", "ok-rm", "garbage-x"])
    proc = tcplab(
        "analyze", "-a", "llm", "-p", f"base_url={server.base_url}", "-p", "model=fault-model",
        "-p", "cache=off", "-p", "max_retries=1", "-p", "timeout_s=5", "-p", "seed=7",
        "-p", "stream=true",
        "--corpus", str(corpus), "ok-ls", "ok-rm", "garbage-x", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["tool"] for r in rows] == ["ok-ls", "ok-rm", "garbage-x"]
    assert [r["status"] for r in rows] == ["OK", "OK", "PARSE_FAILURE"]
    assert rows[1]["risk_level"] == "CRITICAL"
    assert rows[0]["usage"]["prompt_tokens"] == 1000
    assert rows[0]["timing"]["ttft_ns"] > 0
    assert all(req["seed"] == 7 for req in server.requests)


def test_console_script_without_model_fails_cleanly(tcplab: Runner, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path, ["ls"])
    proc = tcplab("analyze", "-a", "llm", "--corpus", str(corpus), "ls", "--json")
    assert proc.returncode != 0
    assert "model" in proc.stderr and "Traceback" not in proc.stderr
