"""Analyzers: one interface, several arms (tcp, rules, embedding, llm)."""

from tcplab.analyzers._base import _BUILTIN, Analyzer, AnalyzerRegistry, default_registry
from tcplab.analyzers._inputs import default_corpus_path, load_inputs, to_input
from tcplab.analyzers._types import (
    Assessment,
    CacheInfo,
    ModelIdentity,
    Status,
    Timing,
    ToolInput,
    Usage,
    failure,
)

# the accelerator arm (issue 18): created through the registry, its module imported on use
_BUILTIN.setdefault("tcp-batch", "tcplab.analyzers._batch:TcpBatchAnalyzer")
# the per-invocation arm (issue 16): whole command lines decided by tcplab.check
_BUILTIN.setdefault("invocation", "tcplab.analyzers._invocation:InvocationAnalyzer")

__all__ = [
    "Analyzer",
    "AnalyzerRegistry",
    "Assessment",
    "CacheInfo",
    "ModelIdentity",
    "Status",
    "Timing",
    "ToolInput",
    "Usage",
    "default_corpus_path",
    "default_registry",
    "failure",
    "load_inputs",
    "to_input",
]
