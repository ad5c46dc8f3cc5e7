"""Building the request for one tool and turning a reply into an :class:`Assessment`."""

from __future__ import annotations

from typing import Any

from tcplab.analyzers._types import Assessment, ModelIdentity, Status, Timing, Usage, failure
from tcplab.analyzers.llm._cache import CachedReply
from tcplab.analyzers.llm._config import LLMConfig
from tcplab.analyzers.llm._pricing import ModelPrice
from tcplab.analyzers.llm._prompts import answer_schema, parse_answer

__all__ = ["assess_reply", "build_request"]


def build_request(cfg: LLMConfig, messages: list[dict[str, str]]) -> dict[str, Any]:
    """The chat-completions request body (without the streaming options)."""
    req: dict[str, Any] = {
        "model": cfg.model,
        "messages": messages,
        "temperature": cfg.temperature,
        "max_tokens": cfg.max_tokens,
    }
    if cfg.seed is not None:
        req["seed"] = cfg.seed
    if cfg.structured == "json_schema":
        req["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "risk_assessment", "strict": True, "schema": answer_schema()},
        }
    elif cfg.structured == "json_object":
        req["response_format"] = {"type": "json_object"}
    return req


def assess_reply(
    tool: str,
    analyzer: str,
    requested_model: str,
    reply: CachedReply,
    attempts: int,
    timing: Timing,
    price: tuple[str, ModelPrice] | None,
) -> Assessment:
    """The assessment for a reply: REFUSED, PARSE_FAILURE (raw output kept) or OK.

    A refusal is a ``refusal`` text or ``finish_reason == "content_filter"``. Cost is None
    when the model has no price.
    """
    cost = price[1].cost(reply.prompt_tokens, reply.completion_tokens) if price else None
    usage = Usage(reply.prompt_tokens, reply.completion_tokens, cost)
    model = ModelIdentity(model_id=reply.model_id or requested_model, version=reply.fingerprint)
    if reply.refusal or reply.finish_reason == "content_filter":
        why = reply.refusal or f"finish_reason={reply.finish_reason}"
        return failure(
            tool,
            analyzer,
            Status.REFUSED,
            f"model refused: {why}",
            raw_output=reply.content or reply.refusal,
            timing=timing,
            attempts=attempts,
            usage=usage,
            model=model,
        )
    parsed = parse_answer(reply.content)
    if parsed.level is None:
        note = " (answer cut at max_tokens)" if reply.finish_reason == "length" else ""
        return failure(
            tool,
            analyzer,
            Status.PARSE_FAILURE,
            f"{parsed.error}{note}",
            raw_output=reply.content,
            timing=timing,
            attempts=attempts,
            usage=usage,
            model=model,
        )
    return Assessment(
        tool=tool,
        analyzer=analyzer,
        status=Status.OK,
        risk_level=parsed.level,
        capabilities=parsed.capabilities,
        explanation=parsed.explanation,
        raw_output=reply.content,
        attempts=attempts,
        usage=usage,
        timing=timing,
        model=model,
    )
