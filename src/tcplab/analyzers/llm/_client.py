"""One chat-completions attempt: the :class:`Reply`, the transport interface, and the
``transport=sdk`` client through the official ``openai`` SDK (imported lazily).

The SDK's own retries are disabled (``max_retries=0``): the llm arm owns retries, backoff and
timeouts. Every failure leaves a transport as an :class:`AttemptError` with its class. The
default transport is the lean HTTP client in :mod:`._lean`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from tcplab.analyzers.llm._limits import Clock
from tcplab.analyzers.llm._retry import AttemptError, FailureKind, classify_status
from tcplab.analyzers.llm._retry import parse_retry_after as _parse_retry_after
from tcplab.errors import MissingDependencyError

__all__ = ["ChatTransport", "Reply", "SDKChatClient", "excerpt", "import_openai"]


def import_openai() -> ModuleType:
    """The ``openai`` module.

    Raises:
        MissingDependencyError: the ``llm`` extra is not installed.
    """
    try:
        import openai
    except ImportError as exc:
        raise MissingDependencyError.for_extra("openai", "llm", "the llm analyzer") from exc
    return openai


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back from one successful HTTP exchange.

    Attributes:
        content: the assistant text (concatenated stream deltas).
        refusal: the ``refusal`` text, when the model refused through that field.
        finish_reason: ``stop``, ``length``, ``content_filter`` ...
        model_id: the model named in the response.
        fingerprint: ``system_fingerprint`` (None when absent or empty).
        prompt_tokens: prompt tokens (0 when the server reported no usage).
        completion_tokens: completion tokens (0 when the server reported no usage).
        usage_reported: whether the server reported usage.
        ttft_ns: time to first content token (streaming only).
        latency_ns: the attempt's duration.
        server_ns: the latency the server reported for this request, when it reported one.
    """

    content: str
    refusal: str | None
    finish_reason: str | None
    model_id: str | None
    fingerprint: str | None
    prompt_tokens: int
    completion_tokens: int
    usage_reported: bool
    ttft_ns: int | None
    latency_ns: int
    server_ns: int | None = None


def excerpt(value: object, limit: int = 300) -> str:
    """``str(value)``, cut at ``limit`` characters."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."


class ChatTransport(Protocol):
    """What the arm needs from a transport: one attempt, and closing."""

    async def complete(self, request: dict[str, Any]) -> Reply:
        """Send one request and read the whole answer (raises :class:`AttemptError`)."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class SDKChatClient:
    """An ``AsyncOpenAI`` client bound to one event loop (``transport=sdk``).

    Args:
        base_url: server root ending in ``/v1``.
        api_key: the key (a placeholder for local servers that need none).
        timeout_s: per-attempt timeout (whole attempt, including reading the stream).
        stream: use ``stream=True`` (measures time to first token).
        stream_usage: send ``stream_options={"include_usage": true}`` when streaming.
        clock: the time source.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout_s: float,
        stream: bool,
        stream_usage: bool,
        clock: Clock,
    ) -> None:
        self._openai = import_openai()
        self._client: Any = self._openai.AsyncOpenAI(
            base_url=base_url, api_key=api_key, max_retries=0, timeout=timeout_s + 5.0
        )
        self.timeout_s = timeout_s
        self.stream = stream
        self.stream_usage = stream_usage
        self._clock = clock

    async def close(self) -> None:
        """Close the HTTP connection pool."""
        await self._client.close()

    async def complete(self, request: dict[str, Any]) -> Reply:
        """Send one request and read the whole answer.

        Raises:
            AttemptError: any failure, classified (timeout, overload, transient, fatal).
        """
        t0 = self._clock.now_ns()
        try:
            async with asyncio.timeout(self.timeout_s):
                if self.stream:
                    return await self._streamed(request, t0)
                return await self._plain(request, t0)
        except AttemptError:
            raise
        except TimeoutError as exc:
            raise AttemptError(
                FailureKind.TIMEOUT, f"attempt timed out after {self.timeout_s:g} s"
            ) from exc
        except Exception as exc:
            raise self._translate(exc) from exc

    def _translate(self, exc: Exception) -> AttemptError:
        oa = self._openai
        if isinstance(exc, oa.APITimeoutError):
            return AttemptError(FailureKind.TIMEOUT, f"request timed out: {exc}")
        if isinstance(exc, oa.APIStatusError):
            status = int(exc.status_code)
            headers = exc.response.headers
            retry_after: float | None = None
            ms = headers.get("retry-after-ms")
            if ms is not None:
                try:
                    retry_after = max(0.0, float(ms) / 1000.0)
                except ValueError:
                    retry_after = None
            if retry_after is None:
                retry_after = _parse_retry_after(headers.get("retry-after"))
            return AttemptError(
                classify_status(status),
                f"HTTP {status}: {excerpt(exc.body if exc.body is not None else exc)}",
                retry_after_s=retry_after,
                status_code=status,
            )
        if isinstance(exc, oa.APIConnectionError):
            return AttemptError(FailureKind.TRANSIENT, f"connection error: {exc}")
        return AttemptError(
            FailureKind.TRANSIENT, f"malformed response: {type(exc).__name__}: {excerpt(exc)}"
        )

    async def _plain(self, request: dict[str, Any], t0: int) -> Reply:
        resp = await self._client.chat.completions.create(**request)
        if not resp.choices:
            raise AttemptError(FailureKind.TRANSIENT, "malformed response: no choices")
        choice = resp.choices[0]
        usage = resp.usage
        return Reply(
            content=choice.message.content or "",
            refusal=getattr(choice.message, "refusal", None) or None,
            finish_reason=choice.finish_reason,
            model_id=resp.model or None,
            fingerprint=getattr(resp, "system_fingerprint", None) or None,
            prompt_tokens=int(usage.prompt_tokens or 0) if usage else 0,
            completion_tokens=int(usage.completion_tokens or 0) if usage else 0,
            usage_reported=usage is not None,
            ttft_ns=None,
            latency_ns=self._clock.now_ns() - t0,
        )

    async def _streamed(self, request: dict[str, Any], t0: int) -> Reply:
        extra: dict[str, Any] = {"stream": True}
        if self.stream_usage:
            extra["stream_options"] = {"include_usage": True}
        stream = await self._client.chat.completions.create(**request, **extra)
        parts: list[str] = []
        refusal: list[str] = []
        ttft: int | None = None
        finish: str | None = None
        model_id: str | None = None
        fingerprint: str | None = None
        usage: Any = None
        try:
            async for chunk in stream:
                model_id = chunk.model or model_id
                fingerprint = getattr(chunk, "system_fingerprint", None) or fingerprint
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    text = delta.content if delta is not None else None
                    refused = getattr(delta, "refusal", None) if delta is not None else None
                    if (text or refused) and ttft is None:
                        ttft = self._clock.now_ns() - t0
                    if text:
                        parts.append(text)
                    if refused:
                        refusal.append(refused)
                    if choice.finish_reason:
                        finish = choice.finish_reason
        finally:
            await stream.close()
        return Reply(
            content="".join(parts),
            refusal="".join(refusal) or None,
            finish_reason=finish,
            model_id=model_id,
            fingerprint=fingerprint,
            prompt_tokens=int(usage.prompt_tokens or 0) if usage is not None else 0,
            completion_tokens=int(usage.completion_tokens or 0) if usage is not None else 0,
            usage_reported=usage is not None,
            ttft_ns=ttft,
            latency_ns=self._clock.now_ns() - t0,
        )
