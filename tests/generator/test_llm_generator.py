"""The ``llm`` generator's plumbing against the tiny ``transformers serve`` model of the llm arm.

The tiny model's answers are noise: these tests check batching, the cache, the cost cap and that
a failed or unparsable answer is UNKNOWN (never approved), not accuracy.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError
from tcplab.generator import GeneratorContext, generate_registry, get_generator
from tests.analyzers.llm_tiny import TinyServer, missing_components, running_tiny_server
from tests.conftest import in_ci

pytestmark = pytest.mark.slow

_missing = missing_components()
if _missing:  # pragma: no cover - environment dependent
    _why = f"the llm generator tests need {', '.join(_missing)} (the llm arm's tiny server)"
    if in_ci():
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

TOOLS = [
    ToolDoc(name=f"tool{i}", path=f"/usr/bin/tool{i}", real_path=None, package=None,
            man_section="1", man_path=None, doc_source="man",
            sections={"NAME": f"tool{i} - print the numbers up to {i}",
                      "DESCRIPTION": "Prints numbers. Reads nothing, writes nothing."},
            doc_text=f"NAME tool{i}", doc_sha256=f"{i:064x}")
    for i in range(5)
] + [ToolDoc(name="nodoc", path="/usr/bin/nodoc", real_path=None, package=None,
             man_section=None, man_path=None, doc_source="none")]  # fmt: skip


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyServer]:
    yield from running_tiny_server(tmp_path_factory.mktemp("tiny-llm-gen"))


def _ctx(tiny: TinyServer, cache: Path, **kw: object) -> GeneratorContext:
    llm = {"base_url": tiny.base_url, "model": tiny.model, "max_tokens": 12,
           "timeout_s": 60, "max_retries": 1, "backoff_base": 0.05, "concurrency": 2,
           "cache": str(cache)}  # fmt: skip
    return GeneratorContext(llm=llm, **kw)  # type: ignore[arg-type]


def test_llm_generator_plumbing_and_cache(tiny: TinyServer, tmp_path: Path) -> None:
    cache = tmp_path / "llm.sqlite"
    gen = get_generator("llm", _ctx(tiny, cache))
    result = generate_registry(TOOLS, tmp_path / "r.tcpdb", generator=gen)
    assert result.n_tools == 6 and result.generator == "llm"
    preds = get_generator("llm", _ctx(tiny, cache)).predict(TOOLS)  # again: all from the cache
    assert preds[-1].level is RiskLevel.UNKNOWN and preds[-1].record["reason"] == "no documentation"
    for p in preds[:-1]:
        assert p.record["cache_hit"] is True
        if p.record["status"] != "OK":  # noise from a random model: failures are UNKNOWN
            assert p.level is RiskLevel.UNKNOWN
    assert gen.n_sent == 5  # type: ignore[attr-defined]


def test_cost_cap_needs_a_price(tiny: TinyServer, tmp_path: Path) -> None:
    gen = get_generator("llm", _ctx(tiny, tmp_path / "c.sqlite", max_cost_usd=0.01))
    with pytest.raises(UsageError, match="no price"):
        gen.predict(TOOLS)


def test_cost_cap_stops_sending(tiny: TinyServer, tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text(
        "version: test\ncurrency: USD\nunit: per_million_tokens\nmodels:\n"
        f"  {json.dumps(tiny.model)}: {{input: 1000000, output: 1000000}}\n"
    )
    ctx = _ctx(tiny, tmp_path / "c.sqlite", max_cost_usd=0.5, llm_batch=2)
    assert ctx.llm is not None
    ctx.llm["prices"] = str(prices)
    gen = get_generator("llm", ctx)
    preds = gen.predict(TOOLS)
    assert gen.n_sent == 2  # type: ignore[attr-defined]  # one batch: 1 USD per token
    assert gen.info()["spent_usd"] > 0.5
    assert [p.record["reason"] for p in preds[2:5]] == ["cost cap 0.5 USD reached"] * 3
    assert all(p.level is RiskLevel.UNKNOWN for p in preds[2:])


def test_llm_generator_needs_a_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCPLAB_LLM_MODEL", raising=False)
    with pytest.raises(UsageError, match="needs a model"):
        get_generator("llm").predict(TOOLS)
