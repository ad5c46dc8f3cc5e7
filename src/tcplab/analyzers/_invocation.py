"""The ``invocation`` arm: TCP's per-invocation decision for a whole command line (issue 16).

The input's ``name`` is the command line (``git push --force origin main``); the arm answers
with :func:`tcplab.check.check`'s level and capabilities and the most severe reasons (its
decision is the check's: both follow the TCP policy). It reads no documentation. A spec whose
``labels`` is an invocation labels file makes the lines the engine's inputs; every arm is then
scored on the labelled decisions (``label_decision``, ``correct``;
:func:`tcplab.check.score_trials`), see ``docs/check.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import Assessment, ModelIdentity, Status, ToolInput
from tcplab.descriptor import RiskLevel

__all__ = ["InvocationAnalyzer"]


class InvocationAnalyzer(Analyzer):
    """Decide each input's name as a shell command line with ``tcplab.check``.

    Args:
        registry: a tool registry (v2) or a v3 registry; default: as ``tcplab check``
            (``TCPLAB_HOME/registry/tools.tcpdb`` when it exists, plus the shipped knowledge).
    """

    name: ClassVar[str] = "invocation"
    timing_mode: ClassVar[str] = "micro"

    def __init__(self, registry: str | Path | None = None, **params: Any) -> None:
        super().__init__(**params)
        self.registry = Path(registry) if registry else None

    def describe(self) -> dict[str, Any]:
        from tcplab.check import KNOWLEDGE_VERSION

        return {
            "name": self.name,
            "registry": str(self.registry) if self.registry else None,
            "knowledge_version": KNOWLEDGE_VERSION,
        }

    def hot_path(self) -> Callable[[str], object]:
        from tcplab.check import decide_line

        registry = self.registry
        return lambda line: decide_line(line, registry)

    def _analyze(self, tool: ToolInput) -> Assessment:
        from tcplab.check import check

        result = check(tool.name, registry=self.registry)
        worst = sorted(result.reasons, key=lambda r: -_rank(r.risk_level))[:3]
        return Assessment(
            tool=tool.name,
            analyzer=self.name,
            status=Status.OK,
            risk_level=RiskLevel[result.risk_level],
            capabilities=tuple(result.capabilities),
            explanation="; ".join(f"{r.rule}: {r.detail}" for r in worst),
            model=ModelIdentity(
                model_id="tcplab-check", version=f"knowledge-v{result.knowledge_version}"
            ),
        )


_RANK = {"SAFE": 0, "LOW_RISK": 1, "MEDIUM_RISK": 2, "UNKNOWN": 2.5, "HIGH_RISK": 3, "CRITICAL": 4}


def _rank(level: str) -> float:
    return _RANK.get(level, 2.5)
