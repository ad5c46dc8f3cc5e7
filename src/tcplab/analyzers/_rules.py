"""The ``rules`` arm: the generator's rule engine applied to the documentation at decision time.

This is the documentation-parsing baseline that TCP precomputes: same rules, same text, but
paid for on every decision.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import Assessment, ModelIdentity, Status, ToolInput
from tcplab.rules import RuleEngine, load_rules

__all__ = ["RulesAnalyzer"]


class RulesAnalyzer(Analyzer):
    """Apply the rules file (default: the shipped ``rules_v1.yaml``) to each tool's sections."""

    name: ClassVar[str] = "rules"
    #: the arm answers from documentation: a run refuses to start without a corpus
    reads_documentation: ClassVar[bool] = True

    def __init__(self, rules: str | Path | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.rules_path = rules
        self._engine: RuleEngine | None = None

    def open(self) -> None:
        if self._engine is None:
            self._engine = RuleEngine(load_rules(self.rules_path))
        super().open()

    def describe(self) -> dict[str, Any]:
        self.open()
        assert self._engine is not None
        return {
            "name": self.name,
            "rules_version": self._engine.rules.version,
            "rules_sha256": self._engine.rules.sha256,
        }

    def _analyze(self, tool: ToolInput) -> Assessment:
        assert self._engine is not None
        verdict = self._engine.assess(tool.name, tool.sections, tool.path)
        return Assessment(
            tool=tool.name,
            analyzer=self.name,
            status=Status.OK,
            risk_level=verdict.level,
            capabilities=verdict.capabilities,
            explanation=verdict.explanation(),
            model=ModelIdentity(model_id="tcplab-rules", version=self._engine.rules.version),
        )
