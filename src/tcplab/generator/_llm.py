"""The ``llm`` generator: ask a chat model once, offline, then decide in nanoseconds.

Every documented tool goes through the LLM arm (:class:`tcplab.analyzers.llm.LLMAnalyzer`):
any OpenAI-compatible endpoint, structured output (the arm's ``risk-v1`` JSON schema by
default), adaptive concurrency, retries, and the arm's SQLite response cache
(``TCPLAB_HOME/cache/llm.sqlite``), so generating again costs nothing for unchanged pages.
Tools are sent in batches; after each batch the money spent (the arm's price table × reported
token usage) is added up and, once ``max_cost_usd`` is reached, the remaining tools are not
sent: they are UNKNOWN (REQUIRE_APPROVAL), like tools whose answer failed or could not be
parsed, and tools without documentation. The model's level is used as answered; it has no
calibrated confidence, so there is no abstention threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tcplab.analyzers import Status, ToolInput
from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError
from tcplab.generator._base import Generator, GeneratorContext, Prediction

__all__ = ["LLMGenerator"]


class LLMGenerator(Generator):
    """Levels and capabilities answered by a chat model through the LLM arm."""

    name = "llm"
    description = "an OpenAI-compatible chat model, through the llm arm (cached, cost-capped)"

    def __init__(self, context: GeneratorContext | None = None) -> None:
        super().__init__(context)
        self.spent_usd = 0.0
        self.n_sent = 0
        self._describe: dict[str, Any] = {}

    def info(self) -> dict[str, Any]:
        return {
            "generator": self.name,
            "llm": {k: self._describe.get(k) for k in ("model", "base_url", "prompt")},
            "max_cost_usd": self.context.max_cost_usd,
            "spent_usd": round(self.spent_usd, 6),
        }

    def _analyzer(self) -> Any:
        from tcplab.analyzers.llm import LLMAnalyzer

        params = dict(self.context.llm or {})
        if not params.get("model") and not params.get("config"):
            import os

            if not os.environ.get("TCPLAB_LLM_MODEL"):
                raise UsageError(
                    "the llm generator needs a model: --llm-config FILE (docs/llm.md) or "
                    "TCPLAB_LLM_MODEL and TCPLAB_LLM_BASE_URL"
                )
        return LLMAnalyzer(**params)

    def predict(self, tools: Sequence[ToolDoc]) -> list[Prediction]:
        out: dict[int, Prediction] = {}
        todo = [i for i, t in enumerate(tools) if t.doc_source != "none"]
        for i, t in enumerate(tools):
            if t.doc_source == "none":
                out[i] = self._unknown("no documentation")
        cap = self.context.max_cost_usd
        with self._analyzer() as arm:
            self._describe = arm.describe()
            if cap is not None and arm.price is None:
                raise UsageError(
                    f"--max-cost {cap}: model {arm.config.model!r} has no price in the price "
                    "table, so the cap cannot be enforced (add it to the prices file)"
                )
            step = max(1, self.context.llm_batch)
            for start in range(0, len(todo), step):
                chunk = todo[start : start + step]
                if cap is not None and self.spent_usd >= cap:
                    for i in chunk:
                        out[i] = self._unknown(f"cost cap {cap} USD reached")
                    continue
                inputs = [_tool_input(tools[i]) for i in chunk]
                for i, answer in zip(chunk, arm.analyze_batch(inputs), strict=True):
                    out[i] = self._answered(answer)
        return [out[i] for i in range(len(tools))]

    def _answered(self, answer: Any) -> Prediction:
        if not answer.cache.hit:
            self.n_sent += 1
            self.spent_usd += answer.usage.cost_usd or 0.0
        record = {
            **self.info(),
            "status": answer.status.value,
            "cache_hit": answer.cache.hit,
            "prompt_tokens": answer.usage.prompt_tokens,
            "completion_tokens": answer.usage.completion_tokens,
            "cost_usd": answer.usage.cost_usd,
        }
        if answer.status is not Status.OK:
            record["reason"] = f"llm {answer.status.value}: {answer.error or ''}".strip()
            return Prediction(RiskLevel.UNKNOWN, (), record)
        record["reason"] = f"llm: {answer.explanation}"[:500]
        return Prediction(answer.risk_level, tuple(answer.capabilities), record)

    def _unknown(self, why: str) -> Prediction:
        return Prediction(RiskLevel.UNKNOWN, (), {**self.info(), "reason": why})


def _tool_input(doc: ToolDoc) -> ToolInput:
    return ToolInput(
        name=doc.name,
        sections=doc.sections,
        doc_text=doc.doc_text,
        path=doc.path,
        doc_sha256=doc.doc_sha256,
    )
