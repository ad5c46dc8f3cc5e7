"""Per-invocation decisions: parse a shell command line and decide it (issue 16).

``tcplab.check.check(line)`` returns a :class:`CheckResult`; ``decide_line(line)`` only the
decision and level. The shell parser (tree-sitter-bash, extra ``check``) is imported on the
first check, not with this package; pydantic (the result models) on first use of a model, so
the per-call hook stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tcplab.check._engine import SCHEMA_VERSION, check, decide_line, default_registry_path
from tcplab.check._engine import clear_caches as clear_parse_cache
from tcplab.check._knowledge import KNOWLEDGE_VERSION, load_knowledge
from tcplab.check._score import TRIAL_METRICS, is_unsafe_approval, score_labels, score_trials
from tcplab.check._serve import HOOK_DECISIONS, hook_answer, serve, serve_answer, summary
from tcplab.check._sources import build_registry, explain_rule

if TYPE_CHECKING:
    from tcplab.check._generate import GENERATOR, generate_flag_rules
    from tcplab.check._model import CheckReason, CheckResult

__all__ = [
    "GENERATOR",
    "HOOK_DECISIONS",
    "KNOWLEDGE_VERSION",
    "SCHEMA_VERSION",
    "TRIAL_METRICS",
    "CheckReason",
    "CheckResult",
    "build_registry",
    "check",
    "clear_parse_cache",
    "decide_line",
    "default_registry_path",
    "explain_rule",
    "generate_flag_rules",
    "hook_answer",
    "is_unsafe_approval",
    "load_knowledge",
    "score_labels",
    "score_trials",
    "serve",
    "serve_answer",
    "summary",
]


def __getattr__(name: str) -> Any:
    """``CheckResult``, ``CheckReason`` and the generator, imported on first use (PEP 562)."""
    if name in ("CheckResult", "CheckReason"):
        from tcplab.check import _model

        return getattr(_model, name)
    if name in ("GENERATOR", "generate_flag_rules"):  # man-page rule generation, on first use
        from tcplab.check import _generate

        return getattr(_generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
