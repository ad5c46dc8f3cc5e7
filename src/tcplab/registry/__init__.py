"""Descriptor registries: the memory-mapped ``.tcpdb`` file, building, and deciding from it.

Version 1 files hold one descriptor per name; version 3 files (the "v3 registry") add the
tool → subcommand → flag/argument-pattern tree (:class:`Tree`, ``docs/format.md`` §3). The CSV
build and export helpers are imported on first use (the per-call hook opens registries only).
"""

from __future__ import annotations

from tcplab.registry._file import REGISTRY_FORMAT_VERSION, REGISTRY_MAGIC, Registry, write_registry
from tcplab.registry._layout import REGISTRY_TREE_VERSION
from tcplab.registry._tree import Node, Tree, write_tree_registry

TYPE_CHECKING = False  # not `typing`: the per-decision hook imports this package
if TYPE_CHECKING:
    from typing import Any

    from tcplab.registry._build import (
        DecisionCache,
        build_from_csv,
        check_rows,
        decide_cold,
        export_csv,
    )

__all__ = [
    "REGISTRY_FORMAT_VERSION",
    "REGISTRY_MAGIC",
    "REGISTRY_TREE_VERSION",
    "DecisionCache",
    "Node",
    "Registry",
    "Tree",
    "build_from_csv",
    "check_rows",
    "decide_cold",
    "export_csv",
    "write_registry",
    "write_tree_registry",
]

_LAZY = frozenset({"DecisionCache", "build_from_csv", "check_rows", "decide_cold", "export_csv"})


def __getattr__(name: str) -> Any:
    """The CSV build/export helpers and :class:`DecisionCache`, imported on first use."""
    if name in _LAZY:
        from tcplab.registry import _build

        return getattr(_build, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
