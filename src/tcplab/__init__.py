"""tcplab: honest, reproducible experiments on the Tool Capability Protocol (TCP).

The curated top level re-exports the names most users need; everything else lives in its
package (``tcplab.descriptor``, ``tcplab.registry``, ``tcplab.corpus``, ``tcplab.labels``,
``tcplab.rules``, ``tcplab.generator``, ``tcplab.analyzers``, ``tcplab.experiment``,
``tcplab.stats``, ``tcplab.report``, ``tcplab.store``). Importing it loads no optional SDK, and
no numpy: the batch validator, the registry and ``__version__`` are resolved on first use, so
the light CLI commands (which import this package first) start fast.
"""

from __future__ import annotations

import importlib

from tcplab.descriptor import Capability, Decision, RiskLevel, decode, encode
from tcplab.errors import TcplabError

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

    from tcplab.descriptor import validate_batch
    from tcplab.registry import DecisionCache, Registry

    __version__: str

__all__ = [
    "Capability",
    "Decision",
    "DecisionCache",
    "Registry",
    "RiskLevel",
    "TcplabError",
    "__version__",
    "decode",
    "encode",
    "validate_batch",
]

_LAZY = {
    "DecisionCache": "tcplab.registry",
    "Registry": "tcplab.registry",
    "validate_batch": "tcplab.descriptor",
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tcplab")
    except PackageNotFoundError:  # pragma: no cover - a source tree without install
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Resolve the lazily imported names (PEP 562)."""
    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY) | {"__version__"})
