"""The ``llm`` arm: any OpenAI-compatible chat-completions server through the ``openai`` SDK."""

from __future__ import annotations

import asyncio
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, replace
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
from tcplab.analyzers.llm._client import ChatClient, import_openai
from tcplab.analyzers.llm._config import LLMConfig, resolve_config
from tcplab.analyzers.llm._limits import AIMDLimiter, AIMDPolicy, Clock, MonotonicClock, TokenBucket
from tcplab.analyzers.llm._pricing import load_prices
from tcplab.analyzers.llm._prompts import load_template
from tcplab.analyzers.llm._retry import AttemptError, FailureKind, RetryPolicy
from tcplab.analyzers.llm._runner import LoopThread
from tcplab.errors import UsageError

__all__ = ["LLMAnalyzer"]

_PLACEHOLDER_KEY = "sk-no-key-required"


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
        stream: stream answers to measure time to first token (default true).
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
        config: str | Path | None = None,
        clock: Clock | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        given = {k: v for k, v in locals().items() if k not in _NOT_SETTINGS and v is not None}
        self.config: LLMConfig = resolve_config(given, config)
        self.config_file = str(config) if config else None
        self._openai_version = str(import_openai().__version__)
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
        self._client: ChatClient | None = None
        self._limiter: AIMDLimiter | None = None
        self._rpm: TokenBucket | None = None
        self._tpm: TokenBucket | None = None
        self._cache: ResponseCache | None = None
        self.stats = {"requests": 0, "answers": 0, "answers_without_usage": 0, "cache_hits": 0}
        self.models_seen: set[str] = set()

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
        self._client = ChatClient(
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
            "openai_sdk": self._openai_version,
            "prompt": {
                "name": self.template.name,
                "version": self.template.version,
                "sha256": self.template.sha256,
                "doc_budget_chars": self.template.doc_budget_chars,
                "sections": list(self.template.sections),
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
    async def _analyze_async(self, tool: ToolInput) -> Assessment:
        if self._runner is None:
            self.open()
        assert self._runner is not None
        return await self._runner.run_async(self._run(tool))

    def _analyze(self, tool: ToolInput) -> Assessment:
        if self._runner is None:
            self.open()
        assert self._runner is not None
        return self._runner.run(self._run(tool))

    async def analyze_batch_async(
        self, tools: Sequence[ToolInput], *, concurrency: int = 8
    ) -> list[Assessment]:
        """Analyze many tools; order preserved.

        All tools are submitted at once: the adaptive limiter (``concurrency`` /
        ``max_concurrency`` parameters of the arm) bounds the requests in flight, so the
        ``concurrency`` argument of this method is ignored.
        """
        return list(await asyncio.gather(*(self.analyze_async(t) for t in tools)))

    async def _run(self, tool: ToolInput) -> Assessment:
        clock = self._clock
        t_start = clock.now_ns()
        messages = self.template.messages(tool)
        request = build_request(self.config, messages)
        key = self._key(request)
        if self._cache is not None:
            hit = self._cache.get(key)
            if hit is not None:
                elapsed = clock.now_ns() - t_start
                self.stats["cache_hits"] += 1
                timing = Timing(service_ns=elapsed, total_ns=elapsed)
                return replace(
                    self._assess(tool, hit, hit.attempts, timing),
                    cache=CacheInfo(hit=True, original_latency_ns=hit.latency_ns),
                )
        assert self._client is not None and self._limiter is not None
        queue = backoff = service = attempts = 0
        errors: list[AttemptError] = []
        estimate = self._estimate_tokens(messages)
        reply = None
        while reply is None:
            attempts += 1
            t_queue = clock.now_ns()
            epoch = await self._limiter.acquire()
            try:
                if self._rpm is not None:
                    await self._rpm.take(1)
                if self._tpm is not None:
                    await self._tpm.take(estimate)
            except BaseException:
                await self._limiter.release(epoch)
                raise
            t_attempt = clock.now_ns()
            queue += t_attempt - t_queue
            self.stats["requests"] += 1
            try:
                reply = await self._client.complete(request)
            except AttemptError as err:
                service += clock.now_ns() - t_attempt
                await self._limiter.release(epoch, overload=err.kind is FailureKind.OVERLOAD)
                if self._tpm is not None:
                    self._tpm.adjust(-estimate)  # no answer: the tokens were not spent
                errors.append(err)
                if err.kind is FailureKind.FATAL or attempts > self.retry.max_retries:
                    break
                delay = self.retry.delay_s(attempts, err.retry_after_s, self._rng)
                t_sleep = clock.now_ns()
                await clock.sleep(delay)
                backoff += clock.now_ns() - t_sleep
                continue
            except BaseException:
                await self._limiter.release(epoch)
                raise
            service += clock.now_ns() - t_attempt
            await self._limiter.release(epoch, clean=True)
            if self._tpm is not None and reply.usage_reported:
                self._tpm.adjust(reply.prompt_tokens + reply.completion_tokens - estimate)
        total = clock.now_ns() - t_start
        if reply is None:
            timed_out = all(e.kind is FailureKind.TIMEOUT for e in errors)
            return failure(
                tool.name,
                self.name,
                Status.TIMEOUT if timed_out else Status.ERROR,
                f"{attempts} attempt(s) failed; last: {errors[-1]}",
                attempts=attempts,
                timing=Timing(
                    queue_wait_ns=queue,
                    backoff_wait_ns=backoff,
                    service_ns=service,
                    total_ns=total,
                ),
                model=ModelIdentity(model_id=self.config.model),
            )
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
            attempts=attempts,
        )
        if self._cache is not None:
            self._cache.put(key, request, stored)
        timing = Timing(
            queue_wait_ns=queue,
            backoff_wait_ns=backoff,
            ttft_ns=reply.ttft_ns,
            service_ns=service,
            total_ns=total,
        )
        return self._assess(tool, stored, attempts, timing)

    def _assess(
        self, tool: ToolInput, reply: CachedReply, attempts: int, timing: Timing
    ) -> Assessment:
        if reply.model_id:
            self.models_seen.add(reply.model_id)
        price = self.prices.lookup(self.config.model, reply.model_id)
        return assess_reply(tool.name, self.name, self.config.model, reply, attempts, timing, price)


_NOT_SETTINGS = frozenset({"self", "params", "config", "clock", "__class__"})
