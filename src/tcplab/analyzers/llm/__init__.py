"""The ``llm`` arm: an OpenAI-compatible chat model classifies each tool from its documentation.

Works with any chat-completions server (OpenAI, vLLM, Ollama, llama.cpp server, LM Studio,
``transformers serve``) through a lean built-in HTTP/1.1 client, or through the official
``openai`` SDK with ``transport=sdk`` (imported only then: ``pip install 'tcplab[llm]'``).
Client saturation is watched and reported by ``drain_warnings()``. See ``docs/llm.md``.
"""

from tcplab.analyzers.llm._analyzer import LLMAnalyzer
from tcplab.analyzers.llm._cache import CachedReply, ResponseCache
from tcplab.analyzers.llm._config import LLMConfig, resolve_config
from tcplab.analyzers.llm._limits import AIMDLimiter, AIMDPolicy, Clock, MonotonicClock, TokenBucket
from tcplab.analyzers.llm._pricing import ModelPrice, PriceTable, load_prices
from tcplab.analyzers.llm._prompts import (
    PromptTemplate,
    answer_schema,
    extract_json_object,
    load_template,
    parse_answer,
)
from tcplab.analyzers.llm._retry import RetryPolicy, parse_retry_after

__all__ = [
    "AIMDLimiter",
    "AIMDPolicy",
    "CachedReply",
    "Clock",
    "LLMAnalyzer",
    "LLMConfig",
    "ModelPrice",
    "MonotonicClock",
    "PriceTable",
    "PromptTemplate",
    "ResponseCache",
    "RetryPolicy",
    "TokenBucket",
    "answer_schema",
    "extract_json_object",
    "load_prices",
    "load_template",
    "parse_answer",
    "parse_retry_after",
    "resolve_config",
]
