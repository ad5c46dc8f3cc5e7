"""Sources of resource samples: one small ABC and a registry of named sources.

A source that cannot measure on this machine (no psutil, no sensors, no NVML, no /proc) raises
:class:`SourceUnavailable` from :meth:`Sampler.open` with the reason; the sampler records it as
unavailable and never emits a zero in its place.
"""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Sequence
from typing import Any

from tcplab.monitor._model import Point

__all__ = [
    "SOURCES",
    "Sampler",
    "SourceOptions",
    "SourceUnavailable",
    "make_sources",
    "register_source",
]


class SourceUnavailable(Exception):
    """This source cannot measure here; the message is the reason."""


class SourceOptions:
    """What sources may need: the pids to follow, the path whose disk to watch."""

    def __init__(
        self,
        pids: Callable[[], Sequence[tuple[int, str]]] | None = None,
        disk_path: str | None = None,
    ) -> None:
        self.pids = pids or (lambda: [(os.getpid(), "self")])
        self.disk_path = disk_path or os.getcwd()


class Sampler(abc.ABC):
    """One source of samples. ``open`` may raise :class:`SourceUnavailable`."""

    name = "source"

    def open(self) -> None:  # noqa: B027 - optional hook
        """Check the source works here (raise :class:`SourceUnavailable` with the reason)."""

    @abc.abstractmethod
    def sample(self) -> list[Point]:
        """The current values."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release what :meth:`open` took."""


def psutil_module() -> Any:
    """psutil, or :class:`SourceUnavailable` naming the install command."""
    try:
        import psutil  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise SourceUnavailable(
            "psutil is not installed: pip install 'tcplab[monitor]' (or pip install psutil)"
        ) from exc
    return psutil


SourceFactory = Callable[[SourceOptions], Sampler]
#: name -> factory; the order is the order sources are sampled in.
SOURCES: dict[str, SourceFactory] = {}


def register_source(name: str, factory: SourceFactory) -> None:
    """Add (or replace) a named source, e.g. an accelerator's telemetry."""
    SOURCES[name] = factory


def make_sources(names: Sequence[str] | None, options: SourceOptions) -> list[Sampler]:
    """Instances of the named sources (default: all registered)."""
    from tcplab.errors import UsageError
    from tcplab.monitor import _gpu, _host  # noqa: F401 - registers the built-in sources

    chosen = list(SOURCES) if names is None else list(names)
    unknown = [n for n in chosen if n not in SOURCES]
    if unknown:
        raise UsageError(f"unknown sources {unknown}; known: {', '.join(SOURCES)}")
    return [SOURCES[n](options) for n in chosen]
