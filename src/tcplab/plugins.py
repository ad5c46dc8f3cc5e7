"""Plugin classes by name, their modules imported on first use, and their open/close lifecycle.

:class:`PluginRegistry` is the one registry behind :class:`tcplab.analyzers.AnalyzerRegistry`
and :class:`tcplab.accel.AcceleratorRegistry`: a name maps to a class, or to a
``"package.module:Class"`` target that is imported only when the class is first asked for, so
listing the names never loads an optional SDK. Third-party plugins come from the subclass's
entry-point group (a built-in name wins over an entry point) or :meth:`PluginRegistry.register`.
:class:`Lifecycle` is the context-manager protocol the plugins share (``with`` opens and closes).
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import entry_points
from types import TracebackType
from typing import Any, ClassVar, Generic, Self, TypeVar

from tcplab.errors import UsageError

__all__ = ["Lifecycle", "PluginRegistry"]

T = TypeVar("T")


class Lifecycle(abc.ABC):
    """Resources acquired in :meth:`open`, released in :meth:`close`; ``with`` calls both."""

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire resources (idempotent)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release resources (idempotent)."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class PluginRegistry(Generic[T]):
    """Classes of one kind by name; a subclass sets the class variables below.

    Attributes:
        kind: what a plugin is called in messages (``unknown analyzer 'x'; known: ...``).
        group: the ``importlib.metadata`` entry-point group of third-party plugins.
        builtin: the shipped plugins, name to ``"package.module:Class"``.
        hidden: names that resolve but are not listed (test doubles).
    """

    kind: ClassVar[str] = "plugin"
    group: ClassVar[str] = ""
    builtin: ClassVar[Mapping[str, str]] = {}
    hidden: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, builtin: Mapping[str, str] | None = None) -> None:
        self._targets: dict[str, str | type[T]] = dict(builtin or self.builtin)
        if self.group:
            for ep in entry_points(group=self.group):
                self._targets.setdefault(ep.name, ep.value)

    def names(self) -> list[str]:
        """Known names, sorted (the hidden ones left out)."""
        return sorted(n for n in self._targets if n not in self.hidden)

    def register(self, name: str) -> Callable[[type[T]], type[T]]:
        """Class decorator registering a plugin under ``name``."""

        def deco(cls: type[T]) -> type[T]:
            self._targets[name] = cls
            return cls

        return deco

    def get(self, name: str) -> type[T]:
        """The class for ``name`` (imports its module the first time).

        Raises:
            UsageError: unknown name (the message lists the known ones).
            MissingDependencyError: the plugin's module needs an extra that is not installed.
        """
        target = self._targets.get(name)
        if target is None:
            raise UsageError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}")
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            cls: type[T] = getattr(importlib.import_module(module_name), attr)
            self._targets[name] = cls
            return cls
        return target

    def create(self, name: str, **params: Any) -> T:
        """Instantiate plugin ``name`` with ``params``."""
        return self.get(name)(**params)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
