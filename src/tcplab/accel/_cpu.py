"""The ``cpu`` backend: a numba kernel over rows, multi-threaded with ``prange``.

The same design as the batch validator of :mod:`tcplab.descriptor` (rows read as three
little-endian u64 words, the header's CRC terms folded into the start value, 16 independent
table look-ups per row) extended with the risk level and the decision, and compiled twice:
serial and parallel (numba's threading layer, one chunk of rows per thread).
"""

from __future__ import annotations

import functools
import sys
from typing import Any, ClassVar

import numba
import numpy as np
import numpy.typing as npt

from tcplab.accel._base import Accelerator, BatchDecision, decision_lut, risk_lut
from tcplab.accel._oracle import crc_position_tables
from tcplab.errors import UsageError

__all__ = ["CpuAccelerator"]


def _decide_rows(
    words: Any,
    tables: Any,
    start: int,
    rlut: Any,
    dlut: Any,
    valid: Any,
    risk: Any,
    decision: Any,
    reasons: Any,
) -> None:  # pragma: no cover - compiled by numba; exercised through the backend
    m32 = np.uint64(0xFFFFFFFF)
    m16 = np.uint64(0xFFFF)
    m8 = np.uint64(0xFF)
    for r in numba.prange(words.shape[0]):
        w0 = words[r, 0]
        code = 0
        if (w0 & m32) != np.uint64(0x02504354):
            code = 2
        elif ((w0 >> np.uint64(32)) & m16) != np.uint64(0x0200):
            code = 3
        else:
            w1 = words[r, 1]
            w2 = words[r, 2]
            c = np.uint16(start)
            c ^= tables[0, (w0 >> np.uint64(48)) & m8]
            c ^= tables[1, w0 >> np.uint64(56)]
            for k in range(8):
                c ^= tables[2 + k, (w1 >> np.uint64(8 * k)) & m8]
            for k in range(6):
                c ^= tables[10 + k, (w2 >> np.uint64(8 * k)) & m8]
            stored = ((w2 >> np.uint64(40)) & np.uint64(0xFF00)) | (w2 >> np.uint64(56))
            if np.uint64(c) != stored:
                code = 4
        level = np.int8(-1)
        if code == 0:
            level = rlut[(words[r, 1] >> np.uint64(40)) & np.uint64(0x1F)]
        reasons[r] = code
        valid[r] = code == 0
        risk[r] = level
        decision[r] = dlut[level + 1]


def _max_threads() -> int:
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined,unused-ignore]


@functools.cache
def _kernel(parallel: bool) -> Any:
    return numba.njit(parallel=parallel, nogil=True, boundscheck=False)(_decide_rows)


class CpuAccelerator(Accelerator):
    """numba-compiled kernel.

    Args:
        threads: worker threads (``None``: numba's default, all cores; ``1``: the serial
            kernel, no threading layer).
    """

    name: ClassVar[str] = "cpu"

    def __init__(self, threads: int | None = None, **params: Any) -> None:
        super().__init__(**params)
        if threads is not None and (isinstance(threads, bool) or int(threads) < 1):
            raise UsageError(f"cpu accelerator: threads must be >= 1, not {threads!r}")
        self.threads = None if threads is None else int(threads)

    def available(self) -> tuple[bool, str]:
        if sys.byteorder != "little":  # pragma: no cover - every supported machine
            return False, "the cpu kernel reads rows as little-endian words"
        return True, ""

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "numba": numba.__version__,
            "threads": self.threads or _max_threads(),
        }

    def _open(self) -> None:
        self._decide(np.zeros((1, 24), dtype=np.uint8))  # compile outside any timed call

    def _decide(self, rows: npt.NDArray[np.uint8]) -> BatchDecision:
        if rows.ctypes.data % 8:
            rows = rows.copy()  # numpy allocations are aligned; views at odd offsets are not
        n = rows.shape[0]
        out = BatchDecision(
            np.empty(n, dtype=np.bool_),
            np.empty(n, dtype=np.int8),
            np.empty(n, dtype=np.uint8),
            np.empty(n, dtype=np.uint8),
        )
        tables, start = crc_position_tables()
        args = (rows.view(np.uint64), tables, start, risk_lut(), decision_lut(), *out)
        if self.threads == 1:
            _kernel(False)(*args)
            return out
        before = numba.get_num_threads()
        if self.threads is not None:
            numba.set_num_threads(min(self.threads, _max_threads()))
        try:
            _kernel(True)(*args)
        finally:
            numba.set_num_threads(before)
        return out
