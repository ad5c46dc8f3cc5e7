"""Batch decisions on CPU, GPU and FPGA behind one interface (``docs/accelerators.md``).

An :class:`Accelerator` takes an ``N×24`` uint8 array of TCP v2 descriptors and returns a
:class:`BatchDecision` (valid, risk, decision, first reason code) per row. Backends:
``numpy`` (the reference oracle), ``cpu`` (numba, multi-threaded), ``cuda`` (numba-cuda,
``pip install 'tcplab[gpu]'``), ``fpga`` (the HLS kernel of ``accel/fpga`` through XRT's
``pyxrt``). Backend modules, numba-cuda and pyxrt are imported only when used.
"""

from __future__ import annotations

from tcplab.accel._base import (
    DECISIONS,
    Accelerator,
    AcceleratorRegistry,
    BatchDecision,
    as_rows,
    decision_lut,
    default_registry,
    pack,
    risk_lut,
    unpack_packed,
)
from tcplab.accel._oracle import NumpyAccelerator, crc32_rows, crc_position_tables, decide_numpy
from tcplab.accel._vectors import (
    interop_vectors,
    random_batch,
    random_chunks,
    single_bit_corruptions,
)
from tcplab.accel._xbutil import (
    CardTelemetry,
    FpgaCard,
    XbutilHost,
    discover_cards,
    parse_xbutil_devices,
    parse_xbutil_host,
    read_card_telemetry,
)

__all__ = [
    "DECISIONS",
    "Accelerator",
    "AcceleratorRegistry",
    "BatchDecision",
    "CardTelemetry",
    "FpgaCard",
    "NumpyAccelerator",
    "XbutilHost",
    "as_rows",
    "backend_status",
    "crc32_rows",
    "crc_position_tables",
    "create",
    "decide_numpy",
    "decision_lut",
    "default_registry",
    "discover_cards",
    "interop_vectors",
    "pack",
    "parse_xbutil_devices",
    "parse_xbutil_host",
    "random_batch",
    "random_chunks",
    "read_card_telemetry",
    "risk_lut",
    "single_bit_corruptions",
    "unpack_packed",
]


def create(name: str, **params: object) -> Accelerator:
    """Create backend ``name`` (``numpy``, ``cpu``, ``cuda``, ``fpga`` or a plugin)."""
    return default_registry().create(name, **params)


def backend_status() -> dict[str, tuple[bool, str]]:
    """``available()`` of every registered backend with default parameters."""
    reg = default_registry()
    return {name: reg.create(name).available() for name in reg.names()}
