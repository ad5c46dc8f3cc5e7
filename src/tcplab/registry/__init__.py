"""Descriptor registries: the memory-mapped ``.tcpdb`` file, building, and deciding from it."""

from tcplab.registry._build import (
    DecisionCache,
    build_from_csv,
    check_rows,
    decide_cold,
    export_csv,
)
from tcplab.registry._file import REGISTRY_FORMAT_VERSION, REGISTRY_MAGIC, Registry, write_registry

__all__ = [
    "REGISTRY_FORMAT_VERSION",
    "REGISTRY_MAGIC",
    "DecisionCache",
    "Registry",
    "build_from_csv",
    "check_rows",
    "decide_cold",
    "export_csv",
    "write_registry",
]
