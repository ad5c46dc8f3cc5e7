"""The pluggable concern: a :class:`Generator` turns corpus rows into levels + capabilities.

Registry: :func:`get_generator` by name (``rules``, ``ordinal``, ``knn``, ``ensemble``, ``llm``;
``tcplab descriptors generate --generator NAME``). Every prediction carries a JSON-ready
explanation record, written to the registry's ``*.explain.jsonl``. Safety contract: a
generator that cannot justify a level says UNKNOWN (decision REQUIRE_APPROVAL), never an
approving level.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tcplab.corpus import ToolDoc
from tcplab.descriptor import RiskLevel
from tcplab.errors import UsageError

__all__ = [
    "Generator",
    "GeneratorContext",
    "Prediction",
    "generator_names",
    "get_generator",
    "register_generator",
]


@dataclass(frozen=True)
class Prediction:
    """One tool's generated level, capabilities and explanation record."""

    level: RiskLevel
    capabilities: tuple[str, ...]
    record: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratorContext:
    """What a generator may use besides the tools: training labels, cache, rules file."""

    labels: Path | None = None  # training labels (default: the shipped tcplab-v1.csv)
    cache_dir: Path | None = None  # embedding + model cache (default: TCPLAB_HOME/cache/generator)
    rules: Path | None = None  # rules YAML for ``rules`` and the ensemble's overrides
    threshold: float | None = None  # abstention threshold (default: chosen by grouped CV)
    llm: dict[str, Any] | None = None  # LLMAnalyzer parameters of the ``llm`` generator
    max_cost_usd: float | None = None  # the ``llm`` generator stops sending beyond this spend
    llm_batch: int = 64  # tools per batch of the ``llm`` generator (the cap is checked between)
    model_cache: bool = True  # learned generators: load/store the trained model (else retrain)
    threads: int | None = None  # MiniLM encoding threads (None: torch's default, as trained)


class Generator(ABC):
    """Descriptor generator: documentation and package metadata in, levels out."""

    name: str = ""
    description: str = ""

    def __init__(self, context: GeneratorContext | None = None) -> None:
        self.context = context or GeneratorContext()

    @abstractmethod
    def predict(self, tools: Sequence[ToolDoc]) -> list[Prediction]:
        """One prediction per tool, in order (training happens here when needed)."""

    def info(self) -> dict[str, Any]:
        """Provenance written into every explanation record (version, hashes, threshold)."""
        return {"generator": self.name}


_REGISTRY: dict[str, Callable[[GeneratorContext], Generator]] = {}


def register_generator(name: str, factory: Callable[[GeneratorContext], Generator]) -> None:
    """Add a generator factory under ``name`` (the ``--generator`` value)."""
    _REGISTRY[name] = factory


def generator_names() -> list[str]:
    """The registered generator names, sorted."""
    from tcplab.generator import _builtin  # noqa: F401  (registers the shipped generators)

    return sorted(_REGISTRY)


def get_generator(name: str, context: GeneratorContext | None = None) -> Generator:
    """The generator called ``name``.

    Raises:
        UsageError: no generator has that name (the message lists them).
    """
    names = generator_names()
    if name not in _REGISTRY:
        raise UsageError(f"unknown generator {name!r}; choose one of {', '.join(names)}")
    return _REGISTRY[name](context or GeneratorContext())
