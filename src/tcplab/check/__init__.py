"""Per-invocation decisions: parse a shell command line and decide it (issue 16).

``tcplab.check.check(line)`` returns a :class:`CheckResult`. The shell parser
(tree-sitter-bash, extra ``check``) is imported on the first check, not with this package.
"""

from __future__ import annotations

from tcplab.check._engine import check, default_registry_path
from tcplab.check._knowledge import KNOWLEDGE_VERSION, load_knowledge
from tcplab.check._model import SCHEMA_VERSION, CheckReason, CheckResult
from tcplab.check._serve import HOOK_DECISIONS, hook_answer, serve, serve_answer, summary

__all__ = [
    "HOOK_DECISIONS",
    "KNOWLEDGE_VERSION",
    "SCHEMA_VERSION",
    "CheckReason",
    "CheckResult",
    "check",
    "default_registry_path",
    "hook_answer",
    "load_knowledge",
    "serve",
    "serve_answer",
    "summary",
]
