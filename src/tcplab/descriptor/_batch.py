"""Vectorised structural validation of many descriptors: the CPU reference backend.

CRC-32 over a fixed-length message is affine over GF(2): for the 22 checksummed bytes,
``crc(m) = crc(0^22) XOR T_0[m_0] XOR ... XOR T_21[m_21]`` with one 256-entry table per byte
position. The 22 look-ups are independent (no serial dependency chain as in the classic
byte-at-a-time loop), which is what makes the compiled kernel fast. Only the low 16 bits are
kept, as the format stores them. ``tests/descriptor`` pins equality with :func:`validate`.
"""

from __future__ import annotations

import functools
import sys
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
    """Compile the kernel: rows read as three little-endian u64 words.

    For rows whose header (bytes 0-5) is valid, those six bytes are the known constants, so
    their CRC contribution is folded into the start value and only bytes 6-21 are looked up.
    """
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a core dependency
        return None

    @numba.njit(cache=True, nogil=True, boundscheck=False)
    def kernel(words: Any, tables: Any, start: int, reasons: Any) -> None:
        n = words.shape[0]
        for r in range(n):
            w0 = words[r, 0]
            if (w0 & np.uint64(0xFFFFFFFF)) != np.uint64(0x02504354):
                reasons[r] = 2
                continue
            if ((w0 >> np.uint64(32)) & np.uint64(0xFFFF)) != np.uint64(0x0200):
                reasons[r] = 3
                continue
            w1 = words[r, 1]
            w2 = words[r, 2]
            c = np.uint16(start)
            c ^= tables[6, (w0 >> np.uint64(48)) & np.uint64(0xFF)]
            c ^= tables[7, w0 >> np.uint64(56)]
            for k in range(8):
                c ^= tables[8 + k, (w1 >> np.uint64(8 * k)) & np.uint64(0xFF)]
            for k in range(6):
                c ^= tables[16 + k, (w2 >> np.uint64(8 * k)) & np.uint64(0xFF)]
            stored = ((w2 >> np.uint64(40)) & np.uint64(0xFF00)) | (w2 >> np.uint64(56))
            reasons[r] = 4 if np.uint64(c) != stored else 0

    return kernel


@functools.cache
def _folded_start() -> int:
    tables, base = crc_tables()
    start = base
    for pos, byte in enumerate(MAGIC + FORMAT_VERSION.to_bytes(2, "big")):
        start ^= int(tables[pos, byte])
    return start


def validate_batch(arr: npt.NDArray[np.uint8]) -> BatchResult:
    """Validate an ``N×24`` uint8 array of descriptors.

    Identical to the scalar :func:`tcplab.descriptor.validate` on every row (its first reason).
    Uses a numba-compiled kernel; falls back to :func:`validate_batch_numpy` without numba.

    Raises:
        UsageError: ``arr`` is not an ``N×24`` uint8 numpy array.
    """
    rows = _as_rows(arr)
    kernel = _numba_kernel()
    if kernel is None or sys.byteorder != "little":  # pragma: no cover
        return validate_batch_numpy(rows)
    if rows.ctypes.data % 8:
        rows = rows.copy()  # numpy allocations are aligned; views at odd offsets are not
    tables, _base = crc_tables()
    reasons = np.empty(rows.shape[0], dtype=np.uint8)
    kernel(rows.view(np.uint64), tables, _folded_start(), reasons)
    return BatchResult(reasons == 0, reasons)
