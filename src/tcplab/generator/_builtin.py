"""The shipped generators (rules, ordinal, knn, ensemble, llm), registered by name here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tcplab.corpus import ToolDoc
from tcplab.descriptor import Capability, RiskLevel
from tcplab.generator._base import Generator, GeneratorContext, Prediction, register_generator
from tcplab.generator._learned import NeighbourGenerator, OrdinalGenerator
from tcplab.generator._llm import LLMGenerator
from tcplab.rules import RuleEngine, load_rules

__all__ = ["EnsembleGenerator", "RulesGenerator"]


class RulesGenerator(Generator):
    """The rule engine (the default; rules v3: no rule fired → UNKNOWN)."""

    name = "rules"
    description = "hand-written rules over the man page (rules v3; no rule fired -> UNKNOWN)"

    def __init__(self, context: GeneratorContext | None = None) -> None:
        super().__init__(context)
        self.engine = RuleEngine(load_rules(self.context.rules))

    def info(self) -> dict[str, Any]:
        return {
            "generator": self.name,
            "rules_version": self.engine.rules.version,
            "rules_sha256": self.engine.rules.sha256,
        }

    def predict(self, tools: Sequence[ToolDoc]) -> list[Prediction]:
        out = []
        meta = self.info()
        for doc in tools:
            verdict = self.engine.assess(doc.name, doc.sections, doc.path)
            rec = verdict.to_dict()
            rec.update(meta)
            out.append(Prediction(verdict.level, verdict.capabilities, rec))
        return out


class EnsembleGenerator(Generator):
    """``ordinal`` with the rules as upward overrides: a HIGH_RISK or CRITICAL level rule that
    fires raises the learned level (or replaces UNKNOWN); rules never lower a level."""

    name = "ensemble"
    description = "ordinal + rules that fire HIGH_RISK/CRITICAL as upward overrides"

    def __init__(self, context: GeneratorContext | None = None) -> None:
        super().__init__(context)
        self.learned = OrdinalGenerator(self.context)
        self.rules = RulesGenerator(self.context)

    def info(self) -> dict[str, Any]:
        return {**self.learned.info(), **self.rules.info(), "generator": self.name}

    def predict(self, tools: Sequence[ToolDoc]) -> list[Prediction]:
        learned = self.learned.predict(tools)
        ruled = self.rules.predict(tools)
        meta = self.info()
        out = []
        for lp, rp in zip(learned, ruled, strict=True):
            fired_level = any(f["kind"] == "level" for f in rp.record.get("fired", []))
            if fired_level and rp.level >= RiskLevel.HIGH_RISK and rp.level > lp.level:
                caps = {*lp.capabilities, *rp.capabilities}
                ordered = tuple(str(c.name) for c in Capability if c.name in caps)
                rec = {**lp.record, **meta, "fired": rp.record["fired"],
                       "reason": f"rule override {rp.level.name} over {lp.level.name}; "
                                 + str(lp.record.get("reason", ""))}  # fmt: skip
                out.append(Prediction(rp.level, ordered, rec))
            else:
                rec = {**lp.record, **meta, "fired": rp.record.get("fired", [])}
                out.append(Prediction(lp.level, lp.capabilities, rec))
        return out


register_generator("rules", RulesGenerator)
register_generator("ordinal", OrdinalGenerator)
register_generator("knn", NeighbourGenerator)
register_generator("ensemble", EnsembleGenerator)
register_generator("llm", LLMGenerator)
