"""The ``fake`` arm: a registered stand-in for engine tests (never part of a result).

It answers a fixed level, or fails on chosen tools, without any I/O. Its output is labelled
``model_id = "fake (not a real analyzer)"`` wherever it appears.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import Assessment, ModelIdentity, Status, ToolInput, failure
from tcplab.descriptor import RiskLevel

__all__ = ["FakeAnalyzer"]


class FakeAnalyzer(Analyzer):
    """Answers ``level`` for every tool; ``fail`` lists tools that get an ERROR assessment."""

    name: ClassVar[str] = "fake"

    def __init__(
        self,
        level: str = "LOW_RISK",
        fail: list[str] | None = None,
        raise_on: list[str] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.level = RiskLevel.parse(level)
        self.fail = set(fail or [])
        self.raise_on = set(raise_on or [])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level.name, "simulated": True}

    def _analyze(self, tool: ToolInput) -> Assessment:
        if tool.name in self.raise_on:
            raise RuntimeError(f"fake analyzer told to raise on {tool.name}")
        if tool.name in self.fail:
            return failure(tool.name, self.name, Status.ERROR, "fake failure")
        return Assessment(
            tool=tool.name,
            analyzer=self.name,
            status=Status.OK,
            risk_level=self.level,
            model=ModelIdentity(model_id="fake (not a real analyzer)"),
        )
