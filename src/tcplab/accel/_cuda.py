"""The ``cuda`` backend: a numba-cuda kernel, one descriptor per thread.

Decisions: numba's CUDA target (the NVIDIA-maintained ``numba-cuda`` package, ``pip install
'tcplab[gpu]'``) rather than CuPy, so the kernel is Python the CUDA simulator can execute
(``NUMBA_ENABLE_CUDASIM=1``; ``tests/accel`` runs it there on small batches). Rows are read
as six little-endian u32 words (GPUs have native 32-bit integers); the 16×256 CRC tables of
bytes 6-21 (8 KiB) are copied into shared memory by each block, because table look-ups with
data-dependent indices serialise in constant memory. Each row's answer is one byte
(:func:`tcplab.accel.pack`), so the device-to-host transfer is 1/24 of the input.

Large batches go through two CUDA streams and pinned host buffers in chunks: while chunk i
is decided, chunk i+1 is copied in and chunk i-1 copied out, so batches larger than device
memory work and transfers overlap compute.
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tcplab.accel._base import (
    Accelerator,
    BatchDecision,
    decision_lut,
    risk_lut,
    unpack_packed,
)
from tcplab.accel._oracle import crc_position_tables
from tcplab.errors import AcceleratorError, MissingDependencyError, UsageError

__all__ = ["CudaAccelerator", "cuda_module"]

_TABLE = 16 * 256
cuda: Any = None  # numba.cuda once imported; a module global so the simulator can swap it


def cuda_module() -> Any:
    """``numba.cuda``, or :class:`MissingDependencyError` naming the extra."""
    try:
        from numba import cuda
    except ImportError as exc:  # pragma: no cover - numba ships a cuda module
        raise MissingDependencyError.for_extra("numba-cuda", "gpu", "the cuda accelerator") from exc
    return cuda


@functools.cache
def _kernel() -> Any:
    global cuda
    cuda = cuda_module()
    from numba import types

    @cuda.jit  # type: ignore[untyped-decorator]
    def decide_kernel(
        words: Any, n: Any, tables: Any, start: Any, rlut: Any, dlut: Any, out: Any
    ) -> None:
        sh = cuda.shared.array(_TABLE, dtype=types.uint16)
        for i in range(cuda.threadIdx.x, _TABLE, cuda.blockDim.x):
            sh[i] = tables[i]
        cuda.syncthreads()
        for r in range(cuda.grid(1), n, cuda.gridsize(1)):
            w0 = words[r, 0]
            w1 = words[r, 1]
            code = 0
            if w0 != 0x02504354:
                code = 2
            elif (w1 & 0xFFFF) != 0x0200:
                code = 3
            else:
                c = start ^ sh[(w1 >> 16) & 0xFF] ^ sh[256 + (w1 >> 24)]
                for k in range(2, 5):
                    w = words[r, k]
                    base = 512 + (k - 2) * 1024
                    for j in range(4):
                        c ^= sh[base + 256 * j + ((w >> (8 * j)) & 0xFF)]
                w5 = words[r, 5]
                c ^= sh[14 * 256 + (w5 & 0xFF)] ^ sh[15 * 256 + ((w5 >> 8) & 0xFF)]
                if c != (((w5 >> 8) & 0xFF00) | (w5 >> 24)):
                    code = 4
            level = -1
            if code == 0:
                level = rlut[(words[r, 3] >> 8) & 0x1F]
            out[r] = code | ((level + 1) << 3) | (dlut[level + 1] << 6)

    return decide_kernel


class CudaAccelerator(Accelerator):
    """GPU kernel through numba-cuda.

    Args:
        device: CUDA device index.
        threads_per_block: block size (a multiple of 32).
        chunk_rows: rows per stream chunk; batches up to this size go in one transfer.
    """

    name: ClassVar[str] = "cuda"

    def __init__(
        self,
        device: int = 0,
        threads_per_block: int = 256,
        chunk_rows: int = 1 << 24,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        if threads_per_block < 32 or threads_per_block % 32 or threads_per_block > 1024:
            raise UsageError(
                "cuda accelerator: threads_per_block must be 32..1024, a multiple of 32"
            )
        if chunk_rows < 1:
            raise UsageError("cuda accelerator: chunk_rows must be >= 1")
        self.device, self.tpb, self.chunk_rows = int(device), threads_per_block, int(chunk_rows)
        self._dev: dict[str, Any] = {}

    def available(self) -> tuple[bool, str]:
        try:
            cuda = cuda_module()
        except MissingDependencyError as exc:  # pragma: no cover
            return False, str(exc)
        try:
            if not cuda.is_available():
                return False, f"no CUDA GPU or driver here ({_why_not(cuda)})"
            if self.device >= len(cuda.gpus):
                return False, f"CUDA device {self.device} does not exist ({len(cuda.gpus)} GPUs)"
        except Exception as exc:  # the driver layer raises its own types: translate them
            return False, f"CUDA driver error: {type(exc).__name__}: {exc}"
        return True, ""

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"backend": self.name, "device": self.device, "tpb": self.tpb}
        if "name" in self._dev:
            info["gpu"] = self._dev["name"]
        return info

    def _open(self) -> None:
        cuda = cuda_module()
        try:
            cuda.select_device(self.device)
            gpu = cuda.get_current_device()
            tables, start = crc_position_tables()
            self._dev = {
                "name": _text(getattr(gpu, "name", "gpu")),
                "sms": int(getattr(gpu, "MULTIPROCESSOR_COUNT", 1)),
                "tables": cuda.to_device(np.ascontiguousarray(tables.reshape(-1))),
                "start": np.uint32(start),
                "rlut": cuda.to_device(risk_lut().astype(np.int32)),
                "dlut": cuda.to_device(decision_lut().astype(np.int32)),
            }
        except Exception as exc:
            self._dev = {}
            raise AcceleratorError(
                f"cuda accelerator: cannot open device {self.device}: {exc}"
            ) from exc

    def _close(self) -> None:
        self._dev = {}  # device arrays and pinned buffers are freed with their last reference

    def launch(self, d_words: Any, d_out: Any, n: int, stream: Any = 0) -> None:
        """Run the kernel on device arrays (``n×6`` uint32 words in, ``n`` packed bytes out)."""
        self.open()
        blocks = max(1, min((n + self.tpb - 1) // self.tpb, self._dev["sms"] * 32))
        d = self._dev
        _kernel()[blocks, self.tpb, stream](
            d_words, n, d["tables"], d["start"], d["rlut"], d["dlut"], d_out
        )

    def _decide(self, rows: npt.NDArray[np.uint8]) -> BatchDecision:
        words = rows.view(np.uint32) if rows.ctypes.data % 4 == 0 else rows.copy().view(np.uint32)
        try:
            packed = self._pipeline(words)
        except (AcceleratorError, UsageError):
            raise
        except Exception as exc:
            raise AcceleratorError(f"cuda accelerator: {type(exc).__name__}: {exc}") from exc
        return unpack_packed(packed)

    def _buffers(self, cuda: Any, chunk: int) -> tuple[list[Any], ...]:
        """Two streams with pinned host and device buffers of at least ``chunk`` rows, kept
        between calls (pinned allocations are slow), freed by :meth:`close`."""
        bufs = self._dev.get("bufs")
        if bufs is None or bufs[0] < chunk:
            self._dev.pop("bufs", None)  # free the smaller set before allocating
            slots = range(2)
            bufs = (
                chunk,
                [cuda.stream() for _ in slots],
                [cuda.pinned_array((chunk, 6), dtype=np.uint32) for _ in slots],
                [cuda.pinned_array(chunk, dtype=np.uint8) for _ in slots],
                [cuda.device_array((chunk, 6), dtype=np.uint32) for _ in slots],
                [cuda.device_array(chunk, dtype=np.uint8) for _ in slots],
            )
            self._dev["bufs"] = bufs
        return tuple(bufs[1:])

    def _pipeline(self, words: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
        cuda = cuda_module()
        n, chunk = words.shape[0], min(self.chunk_rows, words.shape[0])
        out = np.empty(n, dtype=np.uint8)
        streams, h_in, h_out, d_in, d_out = self._buffers(cuda, chunk)
        pending: list[tuple[int, int] | None] = [None, None]
        for i, lo in enumerate(range(0, n, chunk)):
            s, hi = i % 2, min(lo + chunk, n)
            m = hi - lo
            streams[s].synchronize()  # slot s is free again: collect its previous chunk
            if (prev := pending[s]) is not None:
                out[prev[0] : prev[1]] = h_out[s][: prev[1] - prev[0]]
            h_in[s][:m] = words[lo:hi]
            d_in[s][:m].copy_to_device(h_in[s][:m], stream=streams[s])
            self.launch(d_in[s], d_out[s], m, streams[s])
            d_out[s][:m].copy_to_host(h_out[s][:m], stream=streams[s])
            pending[s] = (lo, hi)
        for s, stream in enumerate(streams):
            stream.synchronize()
            if (prev := pending[s]) is not None:
                out[prev[0] : prev[1]] = h_out[s][: prev[1] - prev[0]]
        return out


def _why_not(cuda: Any) -> str:
    try:
        cuda.cudadrv.driver.driver.get_device_count()
    except Exception as exc:
        return " ".join(str(exc).split())[:200]
    return "cuda.is_available() is False"


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)
