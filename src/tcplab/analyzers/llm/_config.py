"""Settings of the llm arm: explicit parameters, a YAML config file, environment, defaults.

Precedence, highest first: parameters passed to the analyzer (``-p KEY=VALUE``), the
``config`` YAML file (a mapping of the same keys), environment variables ``TCPLAB_LLM_<KEY>``
(``TCPLAB_LLM_BASE_URL``, ``TCPLAB_LLM_MODEL``, ``TCPLAB_LLM_API_KEY`` ...; the API key falls
back to ``OPENAI_API_KEY`` and the base URL to ``OPENAI_BASE_URL``), then the defaults below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from tcplab.config import get_settings
from tcplab.errors import UsageError

__all__ = ["DEFAULT_BASE_URL", "LLMConfig", "resolve_config"]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
STRUCTURED_MODES = ("json_schema", "json_object", "none")
TRANSPORTS = ("http", "sdk")
_OFF = {"off", "none", "no", "false", "disabled", ""}


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Resolved settings (see ``docs/llm.md`` for each one).

    Attributes:
        base_url: OpenAI-compatible server root, ending in ``/v1``.
        model: model name sent in each request.
        api_key: API key, or None (a placeholder is sent: local servers ignore it).
        temperature: sampling temperature.
        seed: sampling seed sent with each request (None: not sent).
        max_tokens: completion token limit.
        structured: ``json_schema``, ``json_object`` or ``none`` (``response_format``).
        stream: stream answers (only needed to measure time to first token).
        stream_usage: ask for usage in the stream (``stream_options.include_usage``).
        timeout_s: per-attempt timeout in seconds.
        max_retries: retries after the first attempt.
        backoff_base: first backoff step in seconds.
        backoff_max: largest computed backoff step in seconds.
        retry_after_max: largest ``Retry-After`` honoured, in seconds.
        concurrency: initial adaptive concurrency limit.
        min_concurrency: lowest limit.
        max_concurrency: highest limit.
        concurrency_decrease: multiplicative cut on overload.
        grow_after: clean completions per +1 of the limit.
        rpm: requests-per-minute budget (None: unlimited).
        tpm: tokens-per-minute budget (None: unlimited).
        cache: the SQLite cache file, or None when the cache is off.
        prices: price table file (None: the shipped ``prices.yaml``).
        prompt: prompt template name or file.
        jitter_seed: seed of the backoff jitter generator (None: random).
        transport: ``http`` (the built-in lean HTTP/1.1 client) or ``sdk`` (the ``openai``
            SDK: proxies, HTTP/2, redirects; about ten times the client CPU per call).
    """

    base_url: str = DEFAULT_BASE_URL
    model: str = ""
    api_key: str | None = None
    temperature: float = 0.0
    seed: int | None = 0
    max_tokens: int = 512
    structured: str = "json_schema"
    stream: bool = False
    stream_usage: bool = True
    timeout_s: float = 60.0
    max_retries: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 120.0
    concurrency: int = 4
    min_concurrency: int = 1
    max_concurrency: int = 32
    concurrency_decrease: float = 0.5
    grow_after: int = 8
    rpm: float | None = None
    tpm: float | None = None
    cache: Path | None = None
    prices: Path | None = None
    prompt: str = "risk-v1"
    jitter_seed: int | None = None
    transport: str = "http"


_KEYS = tuple(f.name for f in fields(LLMConfig))


def _env(key: str) -> Any:
    name = f"TCPLAB_LLM_{key.upper()}"
    value = os.environ.get(name)
    if value is None and key == "api_key":
        value = os.environ.get("OPENAI_API_KEY")
    if value is None and key == "base_url":
        value = os.environ.get("OPENAI_BASE_URL")
    if value is None:
        return None
    if key in ("api_key", "base_url", "model", "prompt", "cache", "prices", "transport"):
        return value
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def _is_off(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() in _OFF)


def _convert(key: str, value: Any) -> Any:
    try:
        if key in ("temperature", "timeout_s", "backoff_base", "backoff_max", "retry_after_max"):
            return float(value)
        if key == "concurrency_decrease":
            return float(value)
        if key in ("max_tokens", "max_retries", "concurrency", "min_concurrency"):
            return int(value)
        if key in ("max_concurrency", "grow_after"):
            return int(value)
        if key in ("seed", "jitter_seed"):
            return None if _is_off(value) or value is None else int(value)
        if key in ("rpm", "tpm"):
            return None if _is_off(value) or value is None or value == 0 else float(value)
        if key in ("stream", "stream_usage"):
            if isinstance(value, str):
                return value.strip().lower() not in _OFF
            return bool(value)
        if key == "cache":
            return None if _is_off(value) else Path(str(value)).expanduser()
        if key == "prices":
            return None if value is None else Path(str(value)).expanduser()
        if key == "transport":
            transport = str(value).strip().lower()
            if transport not in TRANSPORTS:
                raise ValueError(f"expected one of {', '.join(TRANSPORTS)}")
            return transport
        if key == "structured":
            mode = "none" if _is_off(value) else str(value).strip().lower()
            if mode not in STRUCTURED_MODES:
                raise ValueError(f"expected one of {', '.join(STRUCTURED_MODES)}")
            return mode
        return None if value is None else str(value)
    except (TypeError, ValueError) as exc:
        raise UsageError(f"llm analyzer: bad value {value!r} for {key}: {exc}") from exc


def resolve_config(explicit: dict[str, Any], config_file: str | Path | None = None) -> LLMConfig:
    """Merge explicit parameters, a config file, the environment and the defaults.

    Raises:
        UsageError: an unknown key in the config file, a bad value, or no model named.
    """
    from_file: dict[str, Any] = {}
    if config_file:
        try:
            doc = yaml.safe_load(Path(config_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise UsageError(f"llm analyzer: cannot read config {config_file}: {exc}") from exc
        if not isinstance(doc, dict):
            raise UsageError(f"llm analyzer: config {config_file} is not a mapping")
        unknown = sorted(set(doc) - set(_KEYS))
        if unknown:
            raise UsageError(f"llm analyzer: config {config_file} has unknown keys {unknown}")
        from_file = doc
    values: dict[str, Any] = {}
    for key in _KEYS:
        if key in explicit:
            raw = explicit[key]
        elif key in from_file:
            raw = from_file[key]
        else:
            raw = _env(key)
            if raw is None:
                continue
        values[key] = _convert(key, raw)
    if "cache" not in values:
        values["cache"] = get_settings().home / "cache" / "llm.sqlite"
    if not values.get("base_url"):
        values["base_url"] = DEFAULT_BASE_URL
    if not values.get("model"):
        raise UsageError("llm analyzer: no model given; pass -p model=NAME or set TCPLAB_LLM_MODEL")
    if values.get("max_retries", 0) < 0 or values.get("timeout_s", 1.0) <= 0:
        raise UsageError("llm analyzer: max_retries must be >= 0 and timeout_s > 0")
    return LLMConfig(**values)
