"""The ``tcp-batch`` arm: registry decisions computed by an accelerator backend.

The same question as the ``tcp`` arm (look the tool's 24 bytes up in a ``.tcpdb``
registry), but validity, risk and decision come from a :mod:`tcplab.accel` backend, so an
experiment compares backends (``numpy``, ``cpu``, ``cuda``, ``fpga``) with the engine's
statistics. :meth:`TcpBatchAnalyzer.analyze_batch` sends the whole batch in one call.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tcplab.accel import Accelerator, BatchDecision, create
from tcplab.analyzers._tcp import TcpAnalyzer
from tcplab.analyzers._types import Assessment, ModelIdentity, Status, Timing, ToolInput
from tcplab.descriptor import DESCRIPTOR_SIZE, RiskLevel, unpack

__all__ = ["TcpBatchAnalyzer"]

_BLANK = bytes(DESCRIPTOR_SIZE)  # a missing tool: all zeros, which fails MAGIC


class TcpBatchAnalyzer(TcpAnalyzer):
    """Registry look-up + accelerator decision.

    Args:
        registry: registry file (default ``TCPLAB_HOME/registry/tools.tcpdb``).
        backend: accelerator name (``numpy``, ``cpu``, ``cuda``, ``fpga``).
        backend_params: parameters of the backend (``threads``, ``device``, ``xclbin``...).
    """

    name: ClassVar[str] = "tcp-batch"
    timing_mode: ClassVar[str] = "micro"

    def __init__(
        self,
        registry: str | Path | None = None,
        backend: str = "cpu",
        backend_params: dict[str, Any] | None = None,
        **params: Any,
    ) -> None:
        super().__init__(registry=registry, mode="cold", **params)
        self.backend = backend
        self.accel: Accelerator = create(backend, **(backend_params or {}))

    def open(self) -> None:
        self.accel.open()  # refuses with the reason (no GPU, no XRT...) before any trial
        super().open()

    def close(self) -> None:
        super().close()
        self.accel.close()

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(name=self.name, backend=self.backend, accelerator=self.accel.describe())
        info.pop("mode", None)
        return info

    def _rows(self, names: Sequence[str]) -> tuple[np.ndarray[Any, Any], list[bool]]:
        assert self._reg is not None
        raws = [self._reg.get_bytes(n) for n in names]
        found = [r is not None for r in raws]
        blob = b"".join(r if r is not None else _BLANK for r in raws)
        rows = np.frombuffer(blob, dtype=np.uint8).reshape(len(names), DESCRIPTOR_SIZE)
        return rows, found

    def hot_path(self) -> Callable[[str], object]:
        self.open()
        decide, rows_of = self.accel.decide, self._rows

        def one(name: str) -> object:
            return decide(rows_of([name])[0])

        one("")  # first use compiles/warms the backend outside any timed trial
        return one

    def _assess(
        self, tool: str, raw: bytes, found: bool, d: BatchDecision, i: int, ns: int
    ) -> Assessment:
        level = RiskLevel(int(d.risk[i])) if found and bool(d.valid[i]) else RiskLevel.UNKNOWN
        caps: tuple[str, ...] = ()
        if not found:
            why = "not in registry"
        elif level is RiskLevel.UNKNOWN and not d.valid[i]:
            why = f"invalid descriptor (reason code {int(d.reasons[i])})"
        else:
            caps, why = tuple(unpack(raw).capabilities), f"descriptor {raw.hex()}"
        return Assessment(
            tool=tool,
            analyzer=self.name,
            status=Status.OK,
            risk_level=level,
            capabilities=caps,
            explanation=f"{why} [{self.backend}]",
            timing=Timing(service_ns=ns, total_ns=ns),
            model=ModelIdentity(model_id=f"tcp-batch:{self.backend}:{self.registry_path.name}"),
        )

    def _decide_many(self, names: Sequence[str]) -> list[Assessment]:
        t0 = time.perf_counter_ns()
        rows, found = self._rows(names)
        d = self.accel.decide(rows)
        per = (time.perf_counter_ns() - t0) // max(1, len(names))
        return [
            self._assess(n, rows[i].tobytes(), found[i], d, i, per) for i, n in enumerate(names)
        ]

    def _analyze(self, tool: ToolInput) -> Assessment:
        return self._decide_many([tool.name])[0]

    def analyze_batch(self, tools: Sequence[ToolInput]) -> list[Assessment]:
        """One accelerator call for the whole batch (per-tool failures never raise)."""
        if not tools:
            return []
        if not self._opened:
            self.open()
        t0 = time.perf_counter_ns()
        try:
            return self._decide_many([t.name for t in tools])
        except Exception as exc:
            return [self._guard(t, exc, t0) for t in tools]
