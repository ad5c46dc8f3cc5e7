"""The :class:`Analyzer` ABC and the analyzer registry.

An analyzer implements :meth:`Analyzer._analyze` (sync) or :meth:`Analyzer._analyze_async`
(async); the base class provides the other entry point, batch analysis, timing of the call,
and turns any exception into a failed :class:`Assessment` so no trial is ever lost.
"""

from __future__ import annotations

import abc
import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from tcplab.analyzers._types import Assessment, Status, Timing, ToolInput, failure
from tcplab.errors import UsageError
from tcplab.plugins import Lifecycle, PluginRegistry

__all__ = ["Analyzer", "AnalyzerRegistry", "default_registry"]


class Analyzer(Lifecycle):
    """One arm of an experiment: answers "what risk level, which capabilities" for a tool.

    Subclasses set ``name`` and override ``_analyze`` or ``_analyze_async`` (or both). The
    public entry points never raise for a per-tool problem: they return a failed assessment.
    Resources (models, registries, HTTP clients) are acquired in :meth:`open` and released in
    :meth:`close`; both are idempotent, and the context-manager protocol calls them.
    """

    name: ClassVar[str] = "analyzer"
    #: "micro" for sub-microsecond arms (timed in calibrated batches), else "macro".
    timing_mode: ClassVar[str] = "macro"

    def __init__(self, **params: Any) -> None:
        cls = type(self)
        if cls._analyze is Analyzer._analyze and cls._analyze_async is Analyzer._analyze_async:
            raise TypeError(f"{cls.__name__} must override _analyze or _analyze_async")
        if params:
            raise UsageError(
                f"analyzer {self.name!r} got unknown parameters: {', '.join(sorted(params))}"
            )
        self._opened = False

    # -- lifecycle -----------------------------------------------------------------------
    def open(self) -> None:
        """Acquire resources (idempotent). Called automatically on first use."""
        self._opened = True

    def close(self) -> None:
        """Release resources (idempotent)."""
        self._opened = False

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """Parameters and identity recorded with every run (model ids, files, hashes)."""

    def hot_path(self) -> Callable[[str], object] | None:
        """A callable ``f(tool_name)`` doing exactly one decision, for micro timing; or None."""
        return None

    def drain_warnings(self) -> list[str]:
        """Warnings accumulated since the last call, which are then forgotten.

        The experiment worker calls this after each shard and records what it returns in the
        run record and the report (for example the ``llm`` arm's client-saturation warning:
        latencies measured while the client could not keep up). The default has none.
        """
        return []

    # -- implementation hooks --------------------------------------------------------------
    def _analyze(self, tool: ToolInput) -> Assessment:
        return asyncio.run(self._analyze_async(tool))

    async def _analyze_async(self, tool: ToolInput) -> Assessment:
        return await asyncio.to_thread(self._run_timed, tool)

    def _run_timed(self, tool: ToolInput) -> Assessment:
        # timed inside the worker thread, so the thread hand-off is not service time
        t0 = time.perf_counter_ns()
        return self._timed(self._analyze(tool), t0)

    # -- public entry points ---------------------------------------------------------------
    def _guard(self, tool: ToolInput, exc: BaseException, t0: int) -> Assessment:
        elapsed = time.perf_counter_ns() - t0
        return failure(
            tool.name,
            self.name,
            Status.ERROR,
            f"{type(exc).__name__}: {exc}",
            timing=Timing(service_ns=elapsed, total_ns=elapsed),
        )

    @staticmethod
    def _timed(result: Assessment, t0: int) -> Assessment:
        if result.timing.total_ns:
            return result
        elapsed = time.perf_counter_ns() - t0
        return result.with_timing(Timing(service_ns=elapsed, total_ns=elapsed))

    def analyze(self, tool: ToolInput) -> Assessment:
        """Analyze one tool (sync). Never raises for a per-tool failure."""
        if not self._opened:
            self.open()
        t0 = time.perf_counter_ns()
        try:
            return self._timed(self._analyze(tool), t0)
        except Exception as exc:  # a failed trial is data, not a crash
            return self._guard(tool, exc, t0)

    async def analyze_async(self, tool: ToolInput) -> Assessment:
        """Analyze one tool (async). Never raises for a per-tool failure."""
        if not self._opened:
            self.open()
        t0 = time.perf_counter_ns()
        try:
            return self._timed(await self._analyze_async(tool), t0)
        except Exception as exc:
            return self._guard(tool, exc, t0)

    def analyze_batch(self, tools: Sequence[ToolInput]) -> list[Assessment]:
        """Analyze many tools; order preserved. Subclasses may batch (embedding models)."""
        return [self.analyze(t) for t in tools]

    async def analyze_batch_async(
        self, tools: Sequence[ToolInput], *, concurrency: int = 8
    ) -> list[Assessment]:
        """Analyze many tools concurrently (bounded); order preserved."""
        sem = asyncio.Semaphore(max(1, concurrency))

        async def one(t: ToolInput) -> Assessment:
            async with sem:
                return await self.analyze_async(t)

        return list(await asyncio.gather(*(one(t) for t in tools)))


_BUILTIN: dict[str, str] = {
    "tcp": "tcplab.analyzers._tcp:TcpAnalyzer",
    "rules": "tcplab.analyzers._rules:RulesAnalyzer",
    "embedding": "tcplab.analyzers.embedding:EmbeddingAnalyzer",
    "llm": "tcplab.analyzers.llm:LLMAnalyzer",
    "fake": "tcplab.analyzers._fake:FakeAnalyzer",
}


class AnalyzerRegistry(PluginRegistry[Analyzer]):
    """Analyzer classes by name; modules are imported only when an analyzer is created.

    Third-party analyzers register through the ``tcplab.analyzers`` entry-point group
    (``name = "package.module:Class"``) or :meth:`register`. ``fake`` is for tests: it
    resolves but :meth:`names` does not list it.
    """

    kind = "analyzer"
    group = "tcplab.analyzers"
    builtin = _BUILTIN
    hidden = frozenset({"fake"})


def default_registry() -> AnalyzerRegistry:
    """A fresh registry with the built-in analyzers and installed plugins."""
    return AnalyzerRegistry()
