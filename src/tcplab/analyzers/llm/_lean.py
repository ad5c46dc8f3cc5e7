"""Chat completions over the lean HTTP client (:mod:`._http`): the arm's default transport.

The request is the same JSON the SDK sends; the answer (a JSON body, or server-sent events
when streaming) is read with :func:`json.loads` into a :class:`Reply`, without building
response objects. Every failure leaves as an :class:`AttemptError` with its class.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from typing import Any

from tcplab.analyzers.llm._client import Reply, excerpt
from tcplab.analyzers.llm._http import HTTPPool, HTTPProtocolError, Origin, Response
from tcplab.analyzers.llm._limits import Clock
from tcplab.analyzers.llm._retry import AttemptError, FailureKind, classify_status
from tcplab.analyzers.llm._retry import parse_retry_after as _parse_retry_after

__all__ = ["SERVER_LATENCY_HEADER", "HTTPChatClient", "reply_from_completion"]

#: A response header in which a server may report its own latency for the request, in ns.
SERVER_LATENCY_HEADER = "x-server-latency-ns"


def _malformed(what: str) -> AttemptError:
    return AttemptError(FailureKind.TRANSIENT, f"malformed response: {what}")


def _text(value: Any, what: str) -> str:
    """Message content: a string, None, or a list of ``{"type": "text", "text": ...}`` parts."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(str(p.get("text") or "") for p in value if isinstance(p, dict))
    raise _malformed(f"{what} is a {type(value).__name__}")


def _usage(value: Any) -> tuple[int, int, bool]:
    if not isinstance(value, dict):
        return 0, 0, False
    try:
        return int(value.get("prompt_tokens") or 0), int(value.get("completion_tokens") or 0), True
    except (TypeError, ValueError):
        raise _malformed(f"usage {excerpt(value)}") from None


def _error_in(obj: dict[str, Any]) -> AttemptError | None:
    if "error" in obj and not obj.get("choices"):
        return AttemptError(FailureKind.TRANSIENT, f"error in answer: {excerpt(obj['error'])}")
    return None


def reply_from_completion(obj: Any, latency_ns: int, server_ns: int | None) -> Reply:
    """The :class:`Reply` in a ``chat.completion`` JSON object.

    Raises:
        AttemptError: the object has no usable first choice (TRANSIENT, retried).
    """
    if not isinstance(obj, dict):
        raise _malformed(f"not a JSON object: {excerpt(obj)}")
    if (err := _error_in(obj)) is not None:
        raise err
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _malformed("no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        raise _malformed("choice without a message")
    prompt, completion, reported = _usage(obj.get("usage"))
    return Reply(
        content=_text(message.get("content"), "content"),
        refusal=_text(message.get("refusal"), "refusal") or None,
        finish_reason=choices[0].get("finish_reason") or None,
        model_id=obj.get("model") or None,
        fingerprint=obj.get("system_fingerprint") or None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        usage_reported=reported,
        ttft_ns=None,
        latency_ns=latency_ns,
        server_ns=server_ns,
    )


class _Stream:
    """What a stream of ``chat.completion.chunk`` events has said so far."""

    def __init__(self, clock: Clock, t0: int) -> None:
        self.clock = clock
        self.t0 = t0
        self.parts: list[str] = []
        self.refusal: list[str] = []
        self.ttft: int | None = None
        self.finish: str | None = None
        self.model_id: str | None = None
        self.fingerprint: str | None = None
        self.usage: Any = None
        self.done = False

    def event(self, data: str) -> None:
        if data.strip() == "[DONE]":
            self.done = True
            return
        try:
            chunk = json.loads(data)
        except ValueError:
            raise _malformed(f"bad event {excerpt(data, 80)!r}") from None
        if not isinstance(chunk, dict):
            raise _malformed(f"event is not an object: {excerpt(data, 80)!r}")
        if (err := _error_in(chunk)) is not None:
            raise err
        self.model_id = chunk.get("model") or self.model_id
        self.fingerprint = chunk.get("system_fingerprint") or self.fingerprint
        if chunk.get("usage") is not None:
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            self._choice(choice)

    def _choice(self, choice: Any) -> None:
        if not isinstance(choice, dict):
            raise _malformed("a choice is not an object")
        delta = choice.get("delta") or {}
        text = _text(delta.get("content"), "content")
        refused = _text(delta.get("refusal"), "refusal")
        if (text or refused) and self.ttft is None:
            self.ttft = self.clock.now_ns() - self.t0
        if text:
            self.parts.append(text)
        if refused:
            self.refusal.append(refused)
        if choice.get("finish_reason"):
            self.finish = choice["finish_reason"]

    def reply(self, server_ns: int | None) -> Reply:
        if not self.done and self.finish is None:
            raise _malformed("the stream ended before the answer did")
        prompt, completion, reported = _usage(self.usage)
        return Reply(
            content="".join(self.parts),
            refusal="".join(self.refusal) or None,
            finish_reason=self.finish,
            model_id=self.model_id,
            fingerprint=self.fingerprint,
            prompt_tokens=prompt,
            completion_tokens=completion,
            usage_reported=reported,
            ttft_ns=self.ttft,
            latency_ns=self.clock.now_ns() - self.t0,
            server_ns=server_ns,
        )


async def _read_events(resp: Response, state: _Stream) -> None:
    """Feed each server-sent event's data to ``state`` (comments and other fields ignored)."""
    buffer = b""
    data: list[str] = []
    async for piece in resp.chunks():
        buffer += piece
        *lines, buffer = buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8", "replace")
            if not line:
                if data:
                    state.event("\n".join(data))
                    data = []
            elif line.startswith("data:"):
                data.append(line[6:] if line.startswith("data: ") else line[5:])
    if data:
        state.event("\n".join(data))


def _server_ns(resp: Response) -> int | None:
    value = resp.headers.get(SERVER_LATENCY_HEADER)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _status_error(resp: Response, body: bytes) -> AttemptError:
    retry_after: float | None = None
    ms = resp.headers.get("retry-after-ms")
    if ms is not None:
        try:
            retry_after = max(0.0, float(ms) / 1000.0)
        except ValueError:
            retry_after = None
    if retry_after is None:
        retry_after = _parse_retry_after(resp.headers.get("retry-after"))
    text = body.decode("utf-8", "replace")
    try:
        detail: Any = json.loads(text)
    except ValueError:
        detail = text
    return AttemptError(
        classify_status(resp.status),
        f"HTTP {resp.status}: {excerpt(detail)}",
        retry_after_s=retry_after,
        status_code=resp.status,
    )


class HTTPChatClient:
    """Chat completions through :class:`HTTPPool` (same interface as the SDK client).

    Args:
        base_url: server root ending in ``/v1``.
        api_key: the key (sent as ``Authorization: Bearer``).
        timeout_s: per-attempt timeout (whole attempt, including reading the stream).
        stream: ask for server-sent events (measures time to first token).
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
        origin = Origin.parse(base_url)
        self._pool = HTTPPool(origin)
        self._path = f"{origin.path}/chat/completions"
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "Authorization": f"Bearer {api_key}",
            "User-Agent": "tcplab-llm",
        }
        self.timeout_s = timeout_s
        self.stream = stream
        self.stream_usage = stream_usage
        self._clock = clock

    async def close(self) -> None:
        """Close the idle connections."""
        await self._pool.close()

    def _body(self, request: dict[str, Any]) -> bytes:
        if self.stream:
            request = {**request, "stream": True}
            if self.stream_usage:
                request["stream_options"] = {"include_usage": True}
        return json.dumps(request, separators=(",", ":")).encode()

    async def complete(self, request: dict[str, Any]) -> Reply:
        """Send one request and read the whole answer.

        Raises:
            AttemptError: any failure, classified (timeout, overload, transient, fatal).
        """
        body = self._body(request)
        t0 = self._clock.now_ns()
        try:
            async with asyncio.timeout(self.timeout_s):
                resp = await self._pool.post(self._path, body, self._headers)
                try:
                    return await self._answer(resp, t0)
                finally:
                    resp.release()
        except AttemptError:
            raise
        except TimeoutError as exc:
            raise AttemptError(
                FailureKind.TIMEOUT, f"attempt timed out after {self.timeout_s:g} s"
            ) from exc
        except HTTPProtocolError as exc:
            raise _malformed(str(exc)) from exc
        except ssl.SSLCertVerificationError as exc:  # retrying will not help
            raise AttemptError(FailureKind.FATAL, f"TLS certificate not trusted: {exc}") from exc
        except OSError as exc:
            msg = f"connection error: {type(exc).__name__}: {exc}"
            raise AttemptError(FailureKind.TRANSIENT, msg) from exc

    async def _answer(self, resp: Response, t0: int) -> Reply:
        if not 200 <= resp.status < 300:
            raise _status_error(resp, await resp.read())
        server_ns = _server_ns(resp)
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            state = _Stream(self._clock, t0)
            await _read_events(resp, state)
            return state.reply(server_ns)
        raw = await resp.read()
        latency = self._clock.now_ns() - t0
        try:
            obj = json.loads(raw)
        except ValueError:
            raise _malformed(f"not JSON: {excerpt(raw.decode('utf-8', 'replace'), 80)!r}") from None
        return reply_from_completion(obj, latency, server_ns)
