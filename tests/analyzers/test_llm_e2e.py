"""End to end: the llm arm against ``transformers serve`` running a tiny random model.

The model is built at test time (no download) and its answers are noise: these tests check
plumbing — statuses, usage, timing with time to first token, cache, the console script —
never accuracy. In CI (CI=true) a missing component fails instead of skipping.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.analyzers import Status, ToolInput
from tcplab.corpus import ToolDoc, write_corpus
from tests.analyzers.llm_tiny import TinyServer, missing_components, running_tiny_server
from tests.conftest import Runner, in_ci

pytestmark = pytest.mark.slow

_missing = missing_components()
HAVE_SDK = importlib.util.find_spec("openai") is not None
if _missing:  # pragma: no cover - environment dependent
    _why = (
        f"the end-to-end llm tests need {', '.join(_missing)}: "
        "pip install 'tcplab[llm]' 'transformers[serving]' torch==2.13.0"
    )
    if in_ci():
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

from tcplab.analyzers.llm import LLMAnalyzer  # noqa: E402

MAX_TOKENS = 12
TOOLS = [
    ToolInput(
        name="ls",
        sections={
            "NAME": "ls - list directory contents",
            "SYNOPSIS": "ls [OPTION]... [FILE]...",
            "DESCRIPTION": "List information about the FILEs (the current directory by default).",
        },
    ),
    ToolInput(
        name="rm",
        sections={
            "NAME": "rm - remove files or directories",
            "SYNOPSIS": "rm [OPTION]... [FILE]...",
            "OPTIONS": "-f, --force  ignore nonexistent files and arguments, never prompt",
        },
    ),
    ToolInput.bare("nodoc"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyServer]:
    yield from running_tiny_server(tmp_path_factory.mktemp("tiny-llm"))


def arm(tiny: TinyServer, **params: object) -> LLMAnalyzer:
    opts: dict[str, object] = {
        "base_url": tiny.base_url,
        "model": tiny.model,
        "max_tokens": MAX_TOKENS,
        "timeout_s": 60,
        "max_retries": 1,
        "backoff_base": 0.05,
        "concurrency": 2,
        "cache": "off",
    }
    opts.update(params)
    return LLMAnalyzer(**opts)


@pytest.mark.parametrize("transport", ["http", "sdk"])
def test_batch_plumbing_streaming(tiny: TinyServer, transport: str) -> None:
    if transport == "sdk" and not HAVE_SDK:  # pragma: no cover - environment dependent
        if in_ci():
            pytest.fail("transport=sdk needs 'openai' (pip install 'tcplab[llm]')")
        pytest.skip("openai is not installed")
    with arm(tiny, stream=True, transport=transport) as a:
        results = asyncio.run(a.analyze_batch_async(TOOLS))
        info = a.describe()
    assert [r.tool for r in results] == ["ls", "rm", "nodoc"]
    for r in results:
        # a random model: an answer that parses or a parse failure, never a transport failure
        assert r.status in (Status.OK, Status.PARSE_FAILURE), r.error
        assert r.raw_output is not None
        assert r.attempts == 1
        assert r.usage.prompt_tokens > 100
        assert 0 < r.usage.completion_tokens <= MAX_TOKENS
        assert r.usage.cost_usd is None  # a local model has no price
        t = r.timing
        assert t.ttft_ns is not None and 0 < t.ttft_ns <= t.service_ns <= t.total_ns
        assert r.model.model_id == tiny.model
        assert not r.cache.hit
    assert info["prompt"]["version"] == "risk-v1"
    assert "cost_note" in info and "usage_note" not in info


def test_non_streaming_and_json_object(tiny: TinyServer) -> None:
    with arm(tiny, structured="json_object") as a:  # non-streaming is the default
        results = [a.analyze(TOOLS[0]) for _ in range(3)]
        warnings = a.drain_warnings()
    for r in results:
        assert r.status in (Status.OK, Status.PARSE_FAILURE), r.error
        assert r.timing.ttft_ns is None and r.usage.completion_tokens > 0
    assert all("llm" in w for w in warnings)  # a 2-core machine may be saturated


def test_cache_round_trip(tiny: TinyServer, tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite"
    with arm(tiny, cache=str(db)) as a:
        first = a.analyze(TOOLS[1])
    with arm(tiny, cache=str(db)) as a:
        again = a.analyze(TOOLS[1])
    assert again.cache.hit and again.cache.original_latency_ns == first.timing.total_ns
    assert again.raw_output == first.raw_output and again.status is first.status
    assert again.timing.total_ns < first.timing.total_ns


def test_console_script(tiny: TinyServer, tcplab: Runner, tmp_path: Path) -> None:
    rows = [
        ToolDoc(
            name=t.name,
            path=f"/usr/bin/{t.name}",
            real_path=f"/usr/bin/{t.name}",
            package=None,
            man_section="1",
            man_path=None,
            doc_source="man",
            sections=dict(t.sections),
            doc_text="\n".join(t.sections.values()),
        )
        for t in TOOLS[:2]
    ]
    corpus = write_corpus(rows, tmp_path / "corpus.parquet")
    proc = tcplab(
        "analyze", "-a", "llm", "-p", f"base_url={tiny.base_url}", "-p", f"model={tiny.model}",
        "-p", f"max_tokens={MAX_TOKENS}", "-p", "cache=off", "-p", "stream=true",
        "--corpus", str(corpus),
        "ls", "rm", "--json",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    assert [r["tool"] for r in out] == ["ls", "rm"]
    for r in out:
        assert r["status"] in ("OK", "PARSE_FAILURE")
        assert r["usage"]["completion_tokens"] > 0 and r["timing"]["ttft_ns"] > 0
