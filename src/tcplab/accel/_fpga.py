"""The ``fpga`` backend: the HLS kernel of ``accel/fpga`` run on an Alveo card through XRT.

The host path uses XRT's Python bindings (``pyxrt``, installed with XRT itself under
``/opt/xilinx/xrt/python``, not from PyPI): open the device, load the xclbin, allocate buffer
objects in the kernel's memory banks, sync them, run ``tcp_decide_mm`` and read the packed
results back. A card is allocated exclusively: :class:`CardLock` holds an ``flock`` on a
per-card lock file from :meth:`FpgaAccelerator.open` until :meth:`~FpgaAccelerator.close`, and
every failure while opening releases the lock and drops whatever was allocated.

Not exercised here (no XRT, card or bitstream on this machine): everything after
``import pyxrt``. The tests cover the error paths up to that point.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from tcplab.accel._base import Accelerator, BatchDecision, unpack_packed
from tcplab.config import get_settings
from tcplab.errors import AcceleratorError, AcceleratorUnavailableError, UsageError

__all__ = ["KERNEL_NAME", "CardLock", "FpgaAccelerator", "import_pyxrt"]

KERNEL_NAME = "tcp_decide_mm"
_BEAT = 64  # bytes per 512-bit memory beat of the kernel's load stage
_XRT_HINT = "install XRT (https://xilinx.github.io/XRT) and `source /opt/xilinx/xrt/setup.sh`"


def import_pyxrt() -> Any:
    """``pyxrt``, imported on first use.

    Raises:
        AcceleratorUnavailableError: XRT's Python bindings are not importable.
    """
    try:
        import pyxrt  # type: ignore[import-not-found]
    except ImportError as exc:
        raise AcceleratorUnavailableError(f"pyxrt is not importable ({exc}): {_XRT_HINT}") from exc
    return pyxrt


class CardLock:
    """An exclusive, non-blocking lock on one card (``flock`` on ``lock_dir/fpga-<card>.lock``).

    The kernel releases an ``flock`` when its process dies, so a crashed holder never leaves
    a card locked.
    """

    def __init__(self, card: str, lock_dir: Path | None = None) -> None:
        safe = "".join(ch if ch.isalnum() else "_" for ch in card)
        base = lock_dir or (get_settings().home / "locks")
        self.path = base / f"fpga-{safe}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """Whether this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AcceleratorError` naming the holder's lock file."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AcceleratorError(
                f"FPGA card is in use by another process (lock {self.path})"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Release the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class FpgaAccelerator(Accelerator):
    """Decisions on an FPGA card.

    Args:
        xclbin: the bitstream built from ``accel/fpga`` (required to open).
        device: XRT device index.
        lock_dir: where the per-card lock files live (default ``TCPLAB_HOME/locks``).
    """

    name: ClassVar[str] = "fpga"

    def __init__(
        self,
        xclbin: str | Path | None = None,
        device: int = 0,
        lock_dir: str | Path | None = None,
        **params: Any,
    ) -> None:
        super().__init__(**params)
        self.xclbin = Path(xclbin) if xclbin else None
        self.device = int(device)
        self.lock = CardLock(str(self.device), Path(lock_dir) if lock_dir else None)
        self._xrt: dict[str, Any] = {}

    def available(self) -> tuple[bool, str]:
        try:
            import_pyxrt()
        except AcceleratorUnavailableError as exc:
            return False, str(exc)
        if self.xclbin is None:
            return False, "no xclbin given (the bitstream built from accel/fpga)"
        if not self.xclbin.is_file():
            return False, f"xclbin {self.xclbin} does not exist"
        return True, ""

    def describe(self) -> dict[str, Any]:
        return {"backend": self.name, "device": self.device, "xclbin": str(self.xclbin)}

    def _open(self) -> None:
        self.lock.acquire()
        try:
            pyxrt = import_pyxrt()
            dev = pyxrt.device(self.device)
            uuid = dev.load_xclbin(str(self.xclbin))
            kernel = pyxrt.kernel(dev, uuid, KERNEL_NAME, pyxrt.kernel.cu_access_mode.exclusive)
            self._xrt = {"pyxrt": pyxrt, "device": dev, "kernel": kernel}
        except AcceleratorError:
            self._release()
            raise
        except Exception as exc:  # XRT raises RuntimeError and friends: translate them
            self._release()
            raise AcceleratorError(
                f"fpga accelerator: cannot open device {self.device} with {self.xclbin}: {exc}"
            ) from exc
        except BaseException:
            self._release()
            raise

    def _release(self) -> None:
        self._xrt = {}  # buffer objects, kernel and device are freed with their last reference
        self.lock.release()

    def _close(self) -> None:
        self._release()

    def _decide(self, rows: npt.NDArray[np.uint8]) -> BatchDecision:
        if not self._xrt:
            raise UsageError("fpga accelerator: not open")
        x, n = self._xrt, rows.shape[0]
        pyxrt, kernel = x["pyxrt"], x["kernel"]
        size = -(-rows.nbytes // _BEAT) * _BEAT  # the kernel reads whole 64-byte beats
        try:
            bo_in = pyxrt.bo(x["device"], size, pyxrt.bo.normal, kernel.group_id(0))
            bo_out = pyxrt.bo(x["device"], n, pyxrt.bo.normal, kernel.group_id(1))
            bo_in.write(rows.tobytes() + bytes(size - rows.nbytes), 0)
            bo_in.sync(pyxrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, size, 0)
            run = kernel(bo_in, bo_out, n)
            state = run.wait()
            if state != pyxrt.ert_cmd_state.ERT_CMD_STATE_COMPLETED:
                raise AcceleratorError(f"fpga accelerator: kernel run ended in state {state}")
            bo_out.sync(pyxrt.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE, n, 0)
            packed = np.frombuffer(bytes(bo_out.read(n, 0)), dtype=np.uint8)
        except AcceleratorError:
            raise
        except Exception as exc:
            raise AcceleratorError(f"fpga accelerator: {type(exc).__name__}: {exc}") from exc
        return unpack_packed(packed)
