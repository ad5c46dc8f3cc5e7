"""The llm arm's parts: prompts, parsing, retry policy, limiter, budgets, config, prices."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from tcplab.analyzers import ToolInput
from tcplab.analyzers.llm._config import resolve_config
from tcplab.analyzers.llm._limits import AIMDLimiter, AIMDPolicy, TokenBucket
from tcplab.analyzers.llm._pricing import load_prices
from tcplab.analyzers.llm._prompts import (
    LEVEL_NAMES,
    extract_json_object,
    load_template,
    parse_answer,
)
from tcplab.analyzers.llm._retry import RetryPolicy, parse_retry_after
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError


def test_template_carries_levels_capabilities_and_sections_in_budget() -> None:
    tpl = load_template("risk-v1")
    assert tpl.version == "risk-v1" and len(tpl.sha256) == 64
    doc = ToolInput(
        name="rm",
        sections={
            "OPTIONS": "-f force",
            "NAME": "rm - remove files",
            "SEE ALSO": "unlink(1)",
            "DESCRIPTION": "x" * 10_000,
        },
    )
    system, user = (m["content"] for m in tpl.messages(doc))
    for name in LEVEL_NAMES:
        assert name in system
    assert "CRITICAL: can destroy data or the system irreversibly" in system
    assert "Tool: rm" in user and "SEE ALSO" not in user
    block = tpl.documentation(doc)
    assert block.startswith("NAME\nrm - remove files")
    assert block.endswith("[... documentation truncated ...]")
    assert len(block) <= tpl.doc_budget_chars + 40
    assert "(no documentation available)" in tpl.messages(ToolInput.bare("x"))[1]["content"]
    assert "just text" in tpl.documentation(ToolInput(name="y", doc_text="just text"))


def test_unknown_template_lists_known_ones() -> None:
    with pytest.raises(UsageError, match="risk-v1"):
        load_template("nope-v9")


def test_template_from_a_file(tmp_path: Path) -> None:
    f = tmp_path / "mine.yaml"
    f.write_text("version: mine-v3\nsystem: S $levels\nuser: U $tool\ndoc_budget_chars: 10\n")
    tpl = load_template(str(f))
    assert tpl.version == "mine-v3" and tpl.doc_budget_chars == 10
    assert tpl.messages(ToolInput.bare("ls"))[1]["content"] == "U ls"


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ('{"risk_level": "HIGH_RISK", "capabilities": ["REQUIRES_ROOT"]}', RiskLevel.HIGH_RISK),
        ('Sure:\n```json\n{"risk_level": "safe", "capabilities": []}\n```', RiskLevel.SAFE),
        ('noise {not json} then {"level": "low-risk", "x": "}{"} tail', RiskLevel.LOW_RISK),
        ('{"risk_level": "CRITICAL", "capabilities": ["destructive"], "explanation": "x"}',
         RiskLevel.CRITICAL),
    ],
)  # fmt: skip
def test_tolerant_parsing(text: str, level: RiskLevel) -> None:
    assert parse_answer(text).level is level


@pytest.mark.parametrize(
    "text",
    [
        "",
        "no json here",
        '{"risk_level": "EXTREME"}',
        '{"risk_level": "UNKNOWN"}',
        '{"risk_level": 3}',
        '{"risk_level": "SAFE", "capabilities": ["TELEPORT"]}',
        '{"risk_level": "SAFE", "capabilities": "DESTRUCTIVE"}',
        '{"risk_level": "SA',
    ],
)
def test_unparseable_answers_are_failures(text: str) -> None:
    parsed = parse_answer(text)
    assert parsed.level is None and parsed.error


def test_extract_first_balanced_object() -> None:
    assert extract_json_object('a {"b": {"c": "}"}} {"d": 1}') == {"b": {"c": "}"}}
    assert extract_json_object("[1, 2]") is None


def test_retry_after_parsing() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after("-2") == 0.0
    earlier = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(earlier, now=now) == 0.0
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(later, now=now) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


def test_backoff_is_jittered_exponential_and_honours_retry_after() -> None:
    policy = RetryPolicy(max_retries=5, backoff_base_s=1.0, backoff_max_s=8.0)
    rng = random.Random(0)
    for n, step in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (6, 8.0)]:
        d = policy.delay_s(n, None, rng)
        assert 0.5 * step <= d <= step
    assert policy.delay_s(1, 5.0, rng) == 5.0
    assert policy.delay_s(1, 1e6, rng) == policy.retry_after_max_s


def test_aimd_limiter_cuts_once_per_wave_and_grows() -> None:
    async def main() -> AIMDLimiter:
        lim = AIMDLimiter(AIMDPolicy(start=8, grow_after=2))
        epochs = [await lim.acquire() for _ in range(8)]
        for e in epochs:  # a whole wave answered 429: one cut
            await lim.release(e, overload=True)
        assert (lim.current, lim.cuts) == (4, 1)
        await lim.release(await lim.acquire(), overload=True)
        assert lim.current == 2
        for _ in range(4):
            await lim.release(await lim.acquire(), clean=True)
        assert lim.current == 4
        return lim

    assert asyncio.run(main()).growths == 2


def test_aimd_limiter_bounds_concurrency() -> None:
    async def main() -> int:
        lim = AIMDLimiter(AIMDPolicy(start=3))

        async def job() -> None:
            e = await lim.acquire()
            await asyncio.sleep(0.01)
            await lim.release(e, clean=True)

        await asyncio.gather(*(job() for _ in range(20)))
        return lim.peak_in_flight

    assert asyncio.run(main()) <= 4  # 3, plus at most one growth


def test_aimd_policy_validation() -> None:
    with pytest.raises(ValueError):
        AIMDPolicy(start=0).validated()
    with pytest.raises(ValueError):
        AIMDPolicy(decrease=1.5).validated()


class _ManualClock:
    """A clock that only moves when the code under test sleeps (no real waiting)."""

    def __init__(self) -> None:
        self.t_ns = 0
        self.slept: list[float] = []

    def now_ns(self) -> int:
        return self.t_ns

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t_ns += int(max(0.0, seconds) * 1e9)


def test_token_bucket_waits_for_refill() -> None:
    clock = _ManualClock()

    async def main() -> int:
        bucket = TokenBucket(600, clock)  # 10 per second, 600 burst
        await bucket.take(600)
        start = clock.now_ns()
        await bucket.take(3)
        return clock.now_ns() - start

    waited_ns = asyncio.run(main())
    assert 0.3e9 <= waited_ns <= 0.31e9  # 3 tokens at 10 per second
    assert sum(clock.slept) == pytest.approx(0.3, abs=0.01)


def test_config_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TCPLAB_LLM_BASE_URL", "http://env/v1")
    monkeypatch.setenv("TCPLAB_LLM_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("TCPLAB_LLM_MAX_RETRIES", "3")
    cfg = resolve_config({})
    assert (cfg.base_url, cfg.model, cfg.api_key, cfg.max_retries) == (
        "http://env/v1",
        "env-model",
        "sk-openai",
        3,
    )
    monkeypatch.setenv("TCPLAB_LLM_API_KEY", "sk-tcplab")
    assert resolve_config({}).api_key == "sk-tcplab"
    f = tmp_path / "llm.yaml"
    f.write_text("model: file-model\ntemperature: 0.3\ncache: off\n")
    cfg = resolve_config({"model": "explicit"}, f)
    assert (cfg.model, cfg.temperature, cfg.cache) == ("explicit", 0.3, None)


def test_config_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no model"):
        resolve_config({})
    with pytest.raises(UsageError, match="structured"):
        resolve_config({"model": "m", "structured": "xml"})
    bad = tmp_path / "bad.yaml"
    bad.write_text("modle: typo\n")
    with pytest.raises(UsageError, match="unknown keys"):
        resolve_config({"model": "m"}, bad)
    assert resolve_config({"model": "m", "seed": "none"}).seed is None


def test_shipped_price_table() -> None:
    table = load_prices()
    key, price = table.lookup("gpt-4o-mini-2024-07-18") or ("", None)
    assert key == "gpt-4o-mini" and price is not None
    assert price.cost(1_000_000, 0) == price.input
    assert table.lookup("llama3.2:1b") is None


def test_bad_price_table(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("models:\n  m: {input: cheap}\n")
    with pytest.raises(UsageError, match="'m'"):
        load_prices(f)
