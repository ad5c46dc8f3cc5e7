"""The TCP v2 descriptor: one frozen 24-byte format (see ``docs/format.md``).

The scalar codec is pure Python (stdlib only). The batch validator needs numpy (and numba for
its compiled kernel); it is imported on first use of :func:`validate_batch`,
:func:`validate_batch_numpy` or :class:`BatchResult`, so single-descriptor users and the light
CLI commands never load numpy.
"""

from __future__ import annotations

import importlib

from tcplab.descriptor._codec import (
    DESCRIPTOR_SIZE,
    FORMAT_VERSION,
    MAGIC,
    Descriptor,
    checksum,
    command_hash,
    decode,
    encode,
    lint,
    parse_hex,
    unpack,
    validate,
)
from tcplab.descriptor._flags import Capability, Decision, Reason, RiskLevel, decide

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

    from tcplab.descriptor._batch import BatchResult, validate_batch, validate_batch_numpy

__all__ = [
    "DESCRIPTOR_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "BatchResult",
    "Capability",
    "Decision",
    "Descriptor",
    "Reason",
    "RiskLevel",
    "checksum",
    "command_hash",
    "decide",
    "decode",
    "encode",
    "lint",
    "parse_hex",
    "unpack",
    "validate",
    "validate_batch",
    "validate_batch_numpy",
]

_LAZY = frozenset({"BatchResult", "validate_batch", "validate_batch_numpy"})


def __getattr__(name: str) -> Any:
    """Import the numpy-based batch validator on first use (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module("tcplab.descriptor._batch"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
