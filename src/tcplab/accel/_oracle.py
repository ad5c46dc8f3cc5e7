"""The ``numpy`` backend: the reference oracle, written to be read rather than to be fast.

It follows ``docs/format.md`` literally: the checks in order (MAGIC, VERSION, CHECKSUM; rows
are always 24 bytes), the checksum as the textbook byte-at-a-time CRC-32/ISO-HDLC (reflected
polynomial ``0xEDB88320``, table built here from the polynomial, not from zlib), the risk as the
highest of the five risk bits of the big-endian flags word, the decision from the descriptor
policy. ``tests/accel`` pins it to the scalar :func:`tcplab.descriptor.validate` and
:func:`tcplab.descriptor.decode`; every other backend is pinned to it.

The per-position tables used by the compiled backends live here too (one definition).
"""

from __future__ import annotations

import functools
import zlib
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from tcplab.accel._base import Accelerator, BatchDecision, decision_lut, risk_lut
from tcplab.descriptor import FORMAT_VERSION, MAGIC, Reason

__all__ = ["NumpyAccelerator", "crc32_rows", "crc_position_tables", "decide_numpy"]

_POLY = 0xEDB88320
_BODY = 22  # checksummed bytes 0-21


@functools.cache
def _byte_table() -> npt.NDArray[np.uint32]:
    table = np.zeros(256, dtype=np.uint32)
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[b] = c
    table.setflags(write=False)
    return table


def crc32_rows(body: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    """CRC-32/ISO-HDLC of every row of ``body`` (byte at a time, as in the textbook)."""
    table = _byte_table()
    crc = np.full(body.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(body.shape[1]):
        crc = table[(crc ^ body[:, j]) & 0xFF] ^ (crc >> np.uint32(8))
    return crc ^ np.uint32(0xFFFFFFFF)


def decide_numpy(rows: npt.NDArray[np.uint8]) -> BatchDecision:
    """The oracle on a C-contiguous N×24 uint8 array."""
    magic_ok = np.all(rows[:, 0:4] == np.frombuffer(MAGIC, dtype=np.uint8), axis=1)
    version_ok = (rows[:, 4] == 0) & (rows[:, 5] == FORMAT_VERSION)
    stored = rows[:, 22].astype(np.uint32) << 8 | rows[:, 23]
    checksum_ok = (crc32_rows(rows[:, :_BODY]) & 0xFFFF) == stored
    reasons = np.full(rows.shape[0], Reason.OK, dtype=np.uint8)
    # the first failed check wins: assign in reverse order so earlier checks overwrite
    reasons[~checksum_ok] = Reason.CHECKSUM
    reasons[~version_ok] = Reason.VERSION
    reasons[~magic_ok] = Reason.MAGIC
    valid = reasons == Reason.OK
    risk_bits = rows[:, 13] & 0x1F  # flags are big-endian: bits 0-4 live in byte 13
    risk = np.where(valid, risk_lut()[risk_bits], np.int8(-1)).astype(np.int8)
    decision = decision_lut()[risk.astype(np.int16) + 1]
    return BatchDecision(valid, risk, decision, reasons)


@functools.cache
def crc_position_tables() -> tuple[npt.NDArray[np.uint16], int]:
    """Per-position tables for the compiled kernels, and the start value with the header folded.

    CRC-32 over a fixed-length message is affine over GF(2):
    ``crc(m) = crc(0^22) ^ T_0[m_0] ^ ... ^ T_21[m_21]``. For a row whose header (bytes 0-5)
    is valid those six bytes are constants, so their terms fold into the start value and the
    kernels look up bytes 6-21 only. Returned: ``tables[pos - 6]`` for pos 6..21 (16×256, low
    16 bits) and the folded start.
    """
    zero = zlib.crc32(bytes(_BODY))
    tables = np.zeros((_BODY, 256), dtype=np.uint16)
    buf = bytearray(_BODY)
    for pos in range(_BODY):
        for b in range(256):
            buf[pos] = b
            tables[pos, b] = (zlib.crc32(buf) ^ zero) & 0xFFFF
        buf[pos] = 0
    start = zero & 0xFFFF
    for pos, byte in enumerate(MAGIC + FORMAT_VERSION.to_bytes(2, "big")):
        start ^= int(tables[pos, byte])
    body = np.ascontiguousarray(tables[6:])
    body.setflags(write=False)
    return body, start


class NumpyAccelerator(Accelerator):
    """The reference oracle (always available; clear, not fast)."""

    name: ClassVar[str] = "numpy"

    def describe(self) -> dict[str, object]:
        return {"backend": self.name, "numpy": np.__version__}

    def _decide(self, rows: npt.NDArray[np.uint8]) -> BatchDecision:
        return decide_numpy(rows)
