"""Vectorised structural validation of many descriptors: the CPU reference backend.

CRC-32 over a fixed-length message is affine over GF(2): for the 22 checksummed bytes,
``crc(m) = crc(0^22) XOR T_0[m_0] XOR ... XOR T_21[m_21]`` with one 256-entry table per byte
position. The 22 look-ups are independent (no serial dependency chain as in the classic
byte-at-a-time loop), which is what makes the compiled kernel fast. Only the low 16 bits are
kept, as the format stores them. ``tests/descriptor`` pins equality with :func:`validate`.
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from tcplab.descriptor._codec import DESCRIPTOR_SIZE, FORMAT_VERSION, MAGIC
from tcplab.descriptor._flags import Reason
from tcplab.errors import UsageError

__all__ = ["BatchResult", "crc_tables", "validate_batch", "validate_batch_numpy"]

_BODY_LEN = 22


class BatchResult(NamedTuple):
    """Result of :func:`validate_batch`.

    Attributes:
        valid: ``bool`` array, True where the row is a valid descriptor.
        reasons: ``uint8`` array of :class:`Reason` codes: the first failed check of each row
            (0 = OK, 2 = MAGIC, 3 = VERSION, 4 = CHECKSUM; rows are always 24 bytes long).
    """

    valid: npt.NDArray[np.bool_]
    reasons: npt.NDArray[np.uint8]


@functools.cache
def crc_tables() -> tuple[npt.NDArray[np.uint16], int]:
    """Per-position CRC tables (22×256, low 16 bits) and the CRC of 22 zero bytes."""
    zero = zlib.crc32(bytes(_BODY_LEN))
    tables = np.zeros((_BODY_LEN, 256), dtype=np.uint16)
    buf = bytearray(_BODY_LEN)
    for pos in range(_BODY_LEN):
        for b in range(256):
            buf[pos] = b
            tables[pos, b] = (zlib.crc32(buf) ^ zero) & 0xFFFF
        buf[pos] = 0
    tables.setflags(write=False)
    return tables, zero & 0xFFFF


def _as_rows(arr: Any) -> npt.NDArray[np.uint8]:
    if not isinstance(arr, np.ndarray):
        raise UsageError(f"validate_batch expects a numpy array, got {type(arr).__name__}")
    if arr.dtype != np.uint8 or arr.ndim != 2 or arr.shape[1] != DESCRIPTOR_SIZE:
        raise UsageError(
            f"validate_batch expects an N×{DESCRIPTOR_SIZE} uint8 array, "
            f"got shape {arr.shape} dtype {arr.dtype}"
        )
    return np.ascontiguousarray(arr)


def validate_batch_numpy(arr: npt.NDArray[np.uint8]) -> BatchResult:
    """Pure-numpy implementation of :func:`validate_batch` (no compiler needed)."""
    rows = _as_rows(arr)
    tables, base = crc_tables()
    crc = np.full(rows.shape[0], base, dtype=np.uint16)
    for pos in range(_BODY_LEN):
        crc ^= tables[pos][rows[:, pos]]
    stored = rows[:, 22].astype(np.uint16) << 8 | rows[:, 23]
    magic_ok = np.all(rows[:, :4] == np.frombuffer(MAGIC, dtype=np.uint8), axis=1)
    version_ok = (rows[:, 4] == 0) & (rows[:, 5] == FORMAT_VERSION)
    reasons = np.where(
        ~magic_ok,
        np.uint8(Reason.MAGIC),
        np.where(
            ~version_ok,
            np.uint8(Reason.VERSION),
            np.where(crc != stored, np.uint8(Reason.CHECKSUM), np.uint8(Reason.OK)),
        ),
    ).astype(np.uint8)
    return BatchResult(reasons == 0, reasons)


@functools.cache
def _numba_kernel() -> Any:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def kernel(rows: Any, tables: Any, base: int, reasons: Any) -> None:
        n = rows.shape[0]
        for r in range(n):
            if rows[r, 0] != 0x54 or rows[r, 1] != 0x43 or rows[r, 2] != 0x50 or rows[r, 3] != 2:
                reasons[r] = 2
                continue
            if rows[r, 4] != 0 or rows[r, 5] != 2:
                reasons[r] = 3
                continue
            c = np.uint16(base)
            for pos in range(22):
                c ^= tables[pos, rows[r, pos]]
            stored = (np.uint16(rows[r, 22]) << np.uint16(8)) | np.uint16(rows[r, 23])
            reasons[r] = 4 if c != stored else 0

    return kernel


def validate_batch(arr: npt.NDArray[np.uint8]) -> BatchResult:
    """Validate an ``N×24`` uint8 array of descriptors.

    Identical to the scalar :func:`tcplab.descriptor.validate` on every row (its first reason).
    Uses a numba-compiled kernel; falls back to :func:`validate_batch_numpy` without numba.

    Raises:
        UsageError: ``arr`` is not an ``N×24`` uint8 numpy array.
    """
    rows = _as_rows(arr)
    kernel = _numba_kernel()
    if kernel is None:  # pragma: no cover
        return validate_batch_numpy(rows)
    tables, base = crc_tables()
    reasons = np.empty(rows.shape[0], dtype=np.uint8)
    kernel(rows, tables, base, reasons)
    return BatchResult(reasons == 0, reasons)
