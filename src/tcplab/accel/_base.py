"""The :class:`Accelerator` ABC, the batch-decision result and the backend registry.

Every backend answers the same question for an ``N×24`` uint8 array of TCP v2 descriptors:
is each row structurally valid (the first failed check, as :func:`tcplab.descriptor.validate`
orders them), what risk level do its bits say, and what does the agent policy decide. A row
that is not valid is untrusted: risk ``UNKNOWN`` (-1) and ``REQUIRE_APPROVAL``, whatever its
bits say (fail closed, ``docs/format.md``).
"""

from __future__ import annotations

import abc
import functools
from typing import Any, ClassVar, NamedTuple

import numpy as np
import numpy.typing as npt

from tcplab.descriptor import DESCRIPTOR_SIZE, Decision, RiskLevel, decide
from tcplab.errors import AcceleratorUnavailableError, UsageError
from tcplab.plugins import Lifecycle, PluginRegistry

__all__ = [
    "DECISIONS",
    "Accelerator",
    "AcceleratorRegistry",
    "BatchDecision",
    "as_rows",
    "decision_lut",
    "default_registry",
    "pack",
    "risk_lut",
    "unpack_packed",
]

#: decision codes of :class:`BatchDecision` (the index in this tuple)
DECISIONS: tuple[Decision, ...] = (
    Decision.APPROVE,
    Decision.CAUTION,
    Decision.REQUIRE_APPROVAL,
    Decision.REJECT,
)


class BatchDecision(NamedTuple):
    """Per-row answers of :meth:`Accelerator.decide` (all arrays have N entries).

    Attributes:
        valid: ``bool``; True where the row is a structurally valid descriptor.
        risk: ``int8`` risk level (-1 UNKNOWN, 0 SAFE ... 4 CRITICAL); -1 for invalid rows.
        decision: ``uint8`` index into :data:`DECISIONS`; REQUIRE_APPROVAL for invalid rows.
        reasons: ``uint8`` :class:`tcplab.descriptor.Reason` code of the first failed check.
    """

    valid: npt.NDArray[np.bool_]
    risk: npt.NDArray[np.int8]
    decision: npt.NDArray[np.uint8]
    reasons: npt.NDArray[np.uint8]

    def equals(self, other: BatchDecision) -> bool:
        """Bit-for-bit equality of all four arrays."""
        return all(np.array_equal(a, b) for a, b in zip(self, other, strict=True))

    def decisions(self) -> list[Decision]:
        """The decisions as :class:`Decision` members (for small batches)."""
        return [DECISIONS[int(c)] for c in self.decision]


@functools.cache
def risk_lut() -> npt.NDArray[np.int8]:
    """Risk level for each value of the five risk bits: the highest bit set, -1 for none."""
    lut = np.full(32, -1, dtype=np.int8)
    for bits in range(1, 32):
        lut[bits] = bits.bit_length() - 1
    lut.setflags(write=False)
    return lut


@functools.cache
def decision_lut() -> npt.NDArray[np.uint8]:
    """Decision code for risk level + 1 (index 0 is UNKNOWN), from the descriptor policy."""
    lut = np.array(
        [DECISIONS.index(decide(RiskLevel(level))) for level in range(-1, 5)], dtype=np.uint8
    )
    lut.setflags(write=False)
    return lut


def pack(result: BatchDecision) -> npt.NDArray[np.uint8]:
    """One byte per row: ``reason | (risk + 1) << 3 | decision << 6`` (the device format)."""
    risk1 = (result.risk.astype(np.int16) + 1).astype(np.uint8)
    return (result.reasons | (risk1 << 3) | (result.decision << 6)).astype(np.uint8)


def unpack_packed(packed: npt.NDArray[np.uint8]) -> BatchDecision:
    """Inverse of :func:`pack` (what the CUDA and FPGA kernels return)."""
    reasons = (packed & 7).astype(np.uint8)
    risk = (((packed >> 3) & 7).astype(np.int8) - 1).astype(np.int8)
    return BatchDecision(reasons == 0, risk, (packed >> 6).astype(np.uint8), reasons)


def as_rows(batch: Any) -> npt.NDArray[np.uint8]:
    """Check that ``batch`` is an ``N×24`` uint8 numpy array; return it C-contiguous.

    Raises:
        UsageError: anything else.
    """
    if not isinstance(batch, np.ndarray):
        raise UsageError(f"an accelerator batch is a numpy array, got {type(batch).__name__}")
    if batch.dtype != np.uint8 or batch.ndim != 2 or batch.shape[1] != DESCRIPTOR_SIZE:
        raise UsageError(
            f"an accelerator batch is an N×{DESCRIPTOR_SIZE} uint8 array, "
            f"got shape {batch.shape} dtype {batch.dtype}"
        )
    return np.ascontiguousarray(batch)


class Accelerator(Lifecycle):
    """A batch-decision backend. Subclasses set ``name`` and implement :meth:`_decide`.

    Resources (compiled kernels, devices, card locks) are acquired in :meth:`open` and
    released in :meth:`close`; both are idempotent and the context manager calls them.
    """

    name: ClassVar[str] = "accelerator"

    def __init__(self, **params: Any) -> None:
        if params:
            raise UsageError(
                f"accelerator {self.name!r} got unknown parameters: {', '.join(sorted(params))}"
            )
        self._opened = False

    def available(self) -> tuple[bool, str]:
        """Whether this backend can run here, and why not (``(True, "")`` when it can)."""
        return True, ""

    def open(self) -> None:
        """Acquire resources (idempotent).

        Raises:
            AcceleratorUnavailableError: :meth:`available` says no; the message says why.
        """
        if self._opened:
            return
        ok, why = self.available()
        if not ok:
            raise AcceleratorUnavailableError(f"accelerator {self.name!r} unavailable: {why}")
        self._open()
        self._opened = True

    def close(self) -> None:
        """Release resources (idempotent)."""
        if self._opened:
            self._opened = False
            self._close()

    def decide(self, batch: Any) -> BatchDecision:
        """Validity, risk, decision and first reason code of every row of an N×24 batch."""
        rows = as_rows(batch)
        self.open()
        if rows.shape[0] == 0:
            empty = np.zeros(0, dtype=np.uint8)
            return BatchDecision(empty.astype(bool), empty.astype(np.int8), empty, empty)
        return self._decide(rows)

    def validate(self, batch: Any) -> Any:
        """Structural validation only: a :class:`tcplab.descriptor.BatchResult`."""
        from tcplab.descriptor import BatchResult

        result = self.decide(batch)
        return BatchResult(result.valid, result.reasons)

    def describe(self) -> dict[str, Any]:
        """Identity and parameters, recorded with experiment runs."""
        return {"backend": self.name}

    def _open(self) -> None:  # optional hook, most backends hold nothing
        """Backend-specific acquisition (compile kernels, open devices)."""

    def _close(self) -> None:
        """Backend-specific release."""

    @abc.abstractmethod
    def _decide(self, rows: npt.NDArray[np.uint8]) -> BatchDecision:
        """Decide on a C-contiguous, non-empty N×24 uint8 array."""


_BUILTIN: dict[str, str] = {
    "numpy": "tcplab.accel._oracle:NumpyAccelerator",
    "cpu": "tcplab.accel._cpu:CpuAccelerator",
    "cuda": "tcplab.accel._cuda:CudaAccelerator",
    "fpga": "tcplab.accel._fpga:FpgaAccelerator",
}


class AcceleratorRegistry(PluginRegistry[Accelerator]):
    """Backends by name; a backend's module is imported only when it is created.

    Third-party backends register through the ``tcplab.accelerators`` entry-point group or
    :meth:`register`.
    """

    kind = "accelerator"
    group = "tcplab.accelerators"
    builtin = _BUILTIN


def default_registry() -> AcceleratorRegistry:
    """A fresh registry with the built-in backends and installed plugins."""
    return AcceleratorRegistry()
