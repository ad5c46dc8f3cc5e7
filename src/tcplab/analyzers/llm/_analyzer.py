"""The ``llm`` arm: any OpenAI-compatible chat-completions server.

The default transport is a lean HTTP/1.1 client (:mod:`._lean`); ``transport=sdk`` uses the
official ``openai`` SDK instead.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import (
    Assessment,
    CacheInfo,
    ModelIdentity,
    Status,
    Timing,
    ToolInput,
    failure,
)
from tcplab.analyzers.llm._answers import assess_reply, build_request
from tcplab.analyzers.llm._cache import CachedReply, ResponseCache, cache_key
from tcplab.analyzers.llm._client import ChatTransport, Reply, SDKChatClient, import_openai
from tcplab.analyzers.llm._config import LLMConfig, resolve_config
from tcplab.analyzers.llm._http import Origin
from tcplab.analyzers.llm._lean import HTTPChatClient
from tcplab.analyzers.llm._limits import AIMDLimiter, AIMDPolicy, Clock, MonotonicClock, TokenBucket
from tcplab.analyzers.llm._pricing import load_prices
from tcplab.analyzers.llm._prompts import load_template
from tcplab.analyzers.llm._retry import AttemptError, FailureKind, RetryPolicy
from tcplab.analyzers.llm._runner import LoopThread
from tcplab.analyzers.llm._saturation import SaturationMonitor
from tcplab.errors import UsageError

__all__ = ["LLMAnalyzer"]

_PLACEHOLDER_KEY = "sk-no-key-required"
_START_BATCH = 8  # tasks started per loop turn by analyze_batch_async


class LLMAnalyzer(Analyzer):
    """Ask a chat model for the risk level and capabilities of each tool.

    Every parameter may also come from a ``config`` YAML file or a ``TCPLAB_LLM_<KEY>``
    environment variable (see ``docs/llm.md``); explicit parameters win.

    Args:
        base_url: server root ending in ``/v1`` (default OpenAI's).
        model: model name (required).
        api_key: API key (default ``TCPLAB_LLM_API_KEY``, then ``OPENAI_API_KEY``).
        temperature: sampling temperature (default 0).
        seed: seed sent with each request (default 0; ``none`` to not send one).
        max_tokens: completion token limit (default 512).
        structured: ``json_schema`` (default), ``json_object`` or ``none``.
        stream: stream answers, only to measure time to first token (default false).
        stream_usage: request usage in the stream (default true).
        timeout_s: per-attempt timeout in seconds (default 60).
        max_retries: retries after the first attempt (default 5).
        backoff_base: first backoff step in seconds (default 1).
        backoff_max: largest computed backoff step in seconds (default 30).
        retry_after_max: largest ``Retry-After`` honoured in seconds (default 120).
        concurrency: initial adaptive concurrency (default 4).
        min_concurrency: lowest concurrency (default 1).
        max_concurrency: highest concurrency (default 32).
        concurrency_decrease: multiplicative cut on overload (default 0.5).
        grow_after: clean completions per +1 concurrency (default 8).
        rpm: requests-per-minute budget (default unlimited).
        tpm: tokens-per-minute budget (default unlimited).
        cache: SQLite file, or ``off`` (default ``TCPLAB_HOME/cache/llm.sqlite``).
        prices: price table YAML (default the shipped ``prices.yaml``).
        prompt: prompt template name or file (default ``risk-v1``).
        jitter_seed: seed for the backoff jitter (default random).
        transport: ``http`` (built-in lean client, default) or ``sdk`` (the ``openai`` SDK).
        config: YAML file with any of the above.
        clock: time source and sleeper (tests).
    """

    name: ClassVar[str] = "llm"

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        temperature: float | None = None,
        seed: int | str | None = None,
        max_tokens: int | None = None,
        structured: str | None = None,
        stream: bool | None = None,
        stream_usage: bool | None = None,
        timeout_s: float | None = None,
        max_retries: int | None = None,
        backoff_base: float | None = None,
        backoff_max: float | None = None,
        retry_after_max: float | None = None,
        concurrency: int | None = None,
        min_concurrency: int | None = None,
        max_concurrency: int | None = None,
        concurrency_decrease: float | None = None,
        grow_after: int | None = None,
        rpm: float | None = None,
        tpm: float | None = None,
        cache: str | Path | bool | None = None,
        prices: str | Path | None = None,
        prompt: str | None = None,
        jitter_seed: int | None = None,
        transport: str | None = None,
        config: str | Path | None = None,
        clock: Clock | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        given = {k: v for k, v in locals().items() if k not in _NOT_SETTINGS and v is not None}
        self.config: LLMConfig = resolve_config(given, config)
        self.config_file = str(config) if config else None
        self._openai_version: str | None = None
        if self.config.transport == "sdk":
            self._openai_version = str(import_openai().__version__)
        else:
            Origin.parse(self.config.base_url)  # a bad URL fails here, not on first use
        cfg = self.config
        try:
            self.policy = AIMDPolicy(
                start=cfg.concurrency,
                minimum=cfg.min_concurrency,
                maximum=cfg.max_concurrency,
                decrease=cfg.concurrency_decrease,
                grow_after=cfg.grow_after,
            ).validated()
        except ValueError as exc:
            raise UsageError(f"llm analyzer: {exc}") from exc
        self.retry = RetryPolicy(
            cfg.max_retries, cfg.backoff_base, cfg.backoff_max, cfg.retry_after_max
        )
        self.template = load_template(cfg.prompt)
        self.prices = load_prices(cfg.prices)
        self.price = self.prices.lookup(cfg.model)
        self._clock: Clock = clock or MonotonicClock()
        self._rng = random.Random(cfg.jitter_seed)
        self._runner: LoopThread | None = None
        self._client: ChatTransport | None = None
        self._limiter: AIMDLimiter | None = None
        self._rpm: TokenBucket | None = None
        self._tpm: TokenBucket | None = None
        self._cache: ResponseCache | None = None
        self.stats = {"requests": 0, "answers": 0, "answers_without_usage": 0, "cache_hits": 0}
        self.models_seen: set[str] = set()
        self._monitor = SaturationMonitor()

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        if self._runner is None:
            cfg = self.config
            if cfg.cache is not None:
                self._cache = ResponseCache(cfg.cache)
            runner = LoopThread()
            self._runner = runner
            runner.run(self._open_on_loop())
        super().open()

    async def _open_on_loop(self) -> None:
        cfg = self.config
        transport = SDKChatClient if cfg.transport == "sdk" else HTTPChatClient
        self._client = transport(
            base_url=cfg.base_url,
            api_key=cfg.api_key or _PLACEHOLDER_KEY,
            timeout_s=cfg.timeout_s,
            stream=cfg.stream,
            stream_usage=cfg.stream_usage,
            clock=self._clock,
        )
        self._limiter = AIMDLimiter(self.policy)
        self._rpm = TokenBucket(cfg.rpm, self._clock) if cfg.rpm else None
        self._tpm = TokenBucket(cfg.tpm, self._clock) if cfg.tpm else None

    def close(self) -> None:
        if self._runner is not None:
            client, self._client = self._client, None
            if client is not None:
                self._runner.run(client.close())
            self._runner.stop()
            self._runner = None
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        super().close()

    # -- identity ------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        cfg = self.config
        info: dict[str, Any] = {
            "name": self.name,
            "base_url": cfg.base_url,
            "model": cfg.model,
            "models_seen": sorted(self.models_seen),
            "api_key_set": cfg.api_key is not None,
            "transport": cfg.transport,
            "openai_sdk": self._openai_version,
            "prompt": {
                "name": self.template.name,
                "version": self.template.version,
                "sha256": self.template.sha256,
                "doc_budget_chars": self.template.doc_budget_chars,
                "sections": list(self.template.sections),
                "invocation_sha256": self.template.invocation_sha256(),
            },
            "sampling": {
                "temperature": cfg.temperature,
                "seed": cfg.seed,
                "max_tokens": cfg.max_tokens,
            },
            "structured": cfg.structured,
            "stream": cfg.stream,
            "retry": asdict(self.retry) | {"timeout_s": cfg.timeout_s},
            "concurrency": asdict(self.policy)
            | {"current": self._limiter.current if self._limiter else self.policy.start},
            "budgets": {"rpm": cfg.rpm, "tpm": cfg.tpm},
            "cache": str(cfg.cache) if cfg.cache else "off",
            "prices": {"file": self.prices.source, "version": self.prices.version},
            "stats": dict(self.stats),
            "saturation": self._monitor.describe(),
            "config_file": self.config_file,
        }
        if self.price is None:
            info["cost_note"] = f"no price for model {cfg.model!r}: cost_usd is None (unknown)"
        else:
            info["prices"]["model_key"] = self.price[0]
        if self._limiter is not None:
            info["concurrency"] |= {
                "peak_in_flight": self._limiter.peak_in_flight,
                "cuts": self._limiter.cuts,
                "growths": self._limiter.growths,
            }
        if self.stats["answers_without_usage"]:
            info["usage_note"] = (
                f"{self.stats['answers_without_usage']} answer(s) came without usage; "
                "their token counts are recorded as 0"
            )
        return info

    # -- requests ------------------------------------------------------------------------
    def _key(self, request: dict[str, Any]) -> str:
        return cache_key(
            {
                "base_url": self.config.base_url.rstrip("/"),
                "prompt_version": self.template.version,
                "stream": self.config.stream,
                **request,
            }
        )

    def _estimate_tokens(self, messages: list[dict[str, str]]) -> int:
        chars = sum(len(m["content"]) for m in messages)
        return math.ceil(chars / 4) + self.config.max_tokens

    # -- analysis ------------------------------------------------------------------------
    def _loop(self) -> LoopThread:
        if self._runner is None:
            self.open()
        assert self._runner is not None
        return self._runner

    async def _analyze_async(self, tool: ToolInput) -> Assessment:
        return await self._loop().run_async(self._run(tool))

    def _analyze(self, tool: ToolInput) -> Assessment:
        return self._loop().run(self._run(tool))

    async def analyze_batch_async(
        self, tools: Sequence[ToolInput], *, concurrency: int = 8
    ) -> list[Assessment]:
        """Analyze many tools; order preserved.

        All tools are submitted at once, in one hand-over to the arm's loop: the adaptive
        limiter (``concurrency`` / ``max_concurrency`` parameters of the arm) bounds the
        requests in flight, so the ``concurrency`` argument of this method is ignored.
        """
        if not self._opened:
            self.open()
        return await self._loop().run_async(self._run_all(tools))

    async def _run_all(self, tools: Sequence[ToolInput]) -> list[Assessment]:
        # Tasks are started a few at a time, letting the loop turn in between: preparing
        # thousands of prompts in one turn would hold back the answers already in flight.
        tasks: list[asyncio.Task[Assessment]] = []
        try:
            for i, tool in enumerate(tools):
                tasks.append(asyncio.create_task(self._run_guarded(tool)))
                if i % _START_BATCH == _START_BATCH - 1:
                    await asyncio.sleep(0)
            return list(await asyncio.gather(*tasks))
        except BaseException:
            for task in tasks:
                task.cancel()
            raise

    async def _run_guarded(self, tool: ToolInput) -> Assessment:
        t0 = time.perf_counter_ns()
        try:
            return self._timed(await self._run(tool), t0)
        except Exception as exc:  # a failed trial is data, not a crash
            return self._guard(tool, exc, t0)

    def drain_warnings(self) -> list[str]:
        """The client-saturation warning for the calls since the last drain, if any.

        See ``docs/llm.md`` ("Timing and saturation"): warned when the event loop delays
        answers by more than 5% of the median service time (90th percentile: the client is
        saturated), or when a call took more than 10% longer than the server reported for
        it (servers sending ``X-Server-Latency-Ns``).
        """
        return self._monitor.drain()

    async def _run(self, tool: ToolInput) -> Assessment:
        t_start = self._clock.now_ns()
        messages = self.template.messages(tool)
        request = build_request(self.config, messages)
        key = self._key(request) if self._cache is not None else None
        if key is not None:
            hit = self._cached(tool, key, t_start)
            if hit is not None:
                return hit
        call = _Call(estimate=self._estimate_tokens(messages))
        reply = await self._attempts(request, call)
        total = self._clock.now_ns() - t_start
        if reply is None:
            return self._failed(tool, call, total)
        return self._answered(tool, key, request, reply, call, total)

    def _cached(self, tool: ToolInput, key: str, t_start: int) -> Assessment | None:
        assert self._cache is not None
        hit = self._cache.get(key)
        if hit is None:
            return None
        elapsed = self._clock.now_ns() - t_start
        self.stats["cache_hits"] += 1
        timing = Timing(service_ns=elapsed, total_ns=elapsed)
        return replace(
            self._assess(tool, hit, hit.attempts, timing),
            cache=CacheInfo(hit=True, original_latency_ns=hit.latency_ns),
        )

    async def _attempts(self, request: dict[str, Any], call: _Call) -> Reply | None:
        """Attempts until an answer, a fatal error or the retry limit (then None)."""
        while True:
            call.attempts += 1
            epoch = await self._admit(call)
            result = await self._attempt(request, call, epoch)
            if isinstance(result, Reply):
                return result
            if result.kind is FailureKind.FATAL or call.attempts > self.retry.max_retries:
                return None
            delay = self.retry.delay_s(call.attempts, result.retry_after_s, self._rng)
            t_sleep = self._clock.now_ns()
            await self._clock.sleep(delay)
            call.backoff_ns += self._clock.now_ns() - t_sleep

    async def _admit(self, call: _Call) -> int:
        """Wait for a concurrency slot and the budgets (queue wait); returns the epoch."""
        assert self._limiter is not None
        t_queue = self._clock.now_ns()
        epoch = await self._limiter.acquire()
        try:
            if self._rpm is not None:
                await self._rpm.take(1)
            if self._tpm is not None:
                await self._tpm.take(call.estimate)
        except BaseException:
            await self._limiter.release(epoch)
            raise
        call.queue_ns += self._clock.now_ns() - t_queue
        return epoch

    async def _attempt(
        self, request: dict[str, Any], call: _Call, epoch: int
    ) -> Reply | AttemptError:
        """One HTTP attempt (service time); the slot is released whatever happens."""
        assert self._client is not None and self._limiter is not None
        clock, monitor = self._clock, self._monitor
        self.stats["requests"] += 1
        monitor.started()
        t_attempt = clock.now_ns()
        try:
            reply = await self._client.complete(request)
        except AttemptError as err:
            call.service_ns += clock.now_ns() - t_attempt
            monitor.finished()
            _count(self.config.model, err, clock.now_ns() - t_attempt)
            await self._limiter.release(epoch, overload=err.kind is FailureKind.OVERLOAD)
            if self._tpm is not None:
                self._tpm.adjust(-call.estimate)  # no answer: the tokens were not spent
            call.errors.append(err)
            return err
        except BaseException:
            monitor.finished()
            await self._limiter.release(epoch)
            raise
        elapsed = clock.now_ns() - t_attempt
        call.service_ns += elapsed
        monitor.finished(elapsed, reply.server_ns)
        _count(self.config.model, None, elapsed)
        await self._limiter.release(epoch, clean=True)
        if self._tpm is not None and reply.usage_reported:
            self._tpm.adjust(reply.prompt_tokens + reply.completion_tokens - call.estimate)
        return reply

    def _failed(self, tool: ToolInput, call: _Call, total: int) -> Assessment:
        timed_out = all(e.kind is FailureKind.TIMEOUT for e in call.errors)
        return failure(
            tool.name,
            self.name,
            Status.TIMEOUT if timed_out else Status.ERROR,
            f"{call.attempts} attempt(s) failed; last: {call.errors[-1]}",
            attempts=call.attempts,
            timing=call.timing(total),
            model=ModelIdentity(model_id=self.config.model),
        )

    def _answered(
        self,
        tool: ToolInput,
        key: str | None,
        request: dict[str, Any],
        reply: Reply,
        call: _Call,
        total: int,
    ) -> Assessment:
        self.stats["answers"] += 1
        if not reply.usage_reported:
            self.stats["answers_without_usage"] += 1
        stored = CachedReply(
            content=reply.content,
            refusal=reply.refusal,
            finish_reason=reply.finish_reason,
            model_id=reply.model_id,
            fingerprint=reply.fingerprint,
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            usage_reported=reply.usage_reported,
            latency_ns=total,
            ttft_ns=reply.ttft_ns,
            attempts=call.attempts,
        )
        if self._cache is not None and key is not None:
            self._cache.put(key, request, stored)
        timing = call.timing(total, ttft_ns=reply.ttft_ns, server_ns=reply.server_ns)
        return self._assess(tool, stored, call.attempts, timing)

    def _assess(
        self, tool: ToolInput, reply: CachedReply, attempts: int, timing: Timing
    ) -> Assessment:
        if reply.model_id:
            self.models_seen.add(reply.model_id)
        price = self.prices.lookup(self.config.model, reply.model_id)
        return assess_reply(tool.name, self.name, self.config.model, reply, attempts, timing, price)


_NOT_SETTINGS = frozenset({"self", "params", "config", "clock", "__class__"})


@dataclass(slots=True)
class _Call:
    """Book-keeping of one tool's attempts."""

    estimate: int
    attempts: int = 0
    queue_ns: int = 0
    backoff_ns: int = 0
    service_ns: int = 0
    errors: list[AttemptError] = field(default_factory=list)

    def timing(
        self, total: int, *, ttft_ns: int | None = None, server_ns: int | None = None
    ) -> Timing:
        return Timing(
            queue_wait_ns=self.queue_ns,
            backoff_wait_ns=self.backoff_ns,
            ttft_ns=ttft_ns,
            service_ns=self.service_ns,
            total_ns=total,
            server_ns=server_ns,
        )


def _count(model: str, err: AttemptError | None, elapsed_ns: int) -> None:
    """``tcplab_llm_requests_total`` (tcplab.monitor; a no-op without prometheus-client)."""
    from tcplab.monitor import record_llm_request

    outcome = "ok" if err is None else "rate_limited" if err.status_code == 429 else "error"
    record_llm_request(model, outcome, elapsed_ns / 1e9)
