"""The ``tcp`` arm: decisions from a descriptor registry (cold or cached)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from tcplab.analyzers._base import Analyzer
from tcplab.analyzers._types import Assessment, ModelIdentity, Status, Timing, ToolInput
from tcplab.config import get_settings
from tcplab.descriptor import RiskLevel, unpack, validate
from tcplab.errors import RegistryError, UsageError
from tcplab.registry import DecisionCache, Registry

__all__ = ["TcpAnalyzer"]


class TcpAnalyzer(Analyzer):
    """Look the tool up in a ``.tcpdb`` registry.

    Args:
        registry: registry file (default ``TCPLAB_HOME/registry/tools.tcpdb``).
        mode: ``cold`` — look up the 24 bytes, validate and decode on every call; ``cached`` —
            the registry is verified once at open, then one hash probe per decision.
    """

    name: ClassVar[str] = "tcp"
    timing_mode: ClassVar[str] = "micro"

    def __init__(
        self, registry: str | Path | None = None, mode: str = "cached", **params: Any
    ) -> None:
        super().__init__(**params)
        if mode not in ("cold", "cached"):
            raise UsageError(f"tcp analyzer: mode must be 'cold' or 'cached', not {mode!r}")
        self.mode = mode
        self.registry_path = (
            Path(registry) if registry else (get_settings().registry_dir / "tools.tcpdb")
        )
        self._reg: Registry | None = None
        self._cache: DecisionCache | None = None

    def open(self) -> None:
        if self._reg is None:
            if not self.registry_path.exists():
                raise RegistryError(
                    f"tcp analyzer: registry {self.registry_path} does not exist; create it "
                    "with `tcplab corpus scan` and `tcplab descriptors generate`"
                )
            self._reg = Registry(self.registry_path)
            if self.mode == "cached":
                self._cache = DecisionCache(self._reg)
        super().open()

    def close(self) -> None:
        if self._reg is not None:
            self._reg.close()
        self._reg, self._cache = None, None
        super().close()

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "name": self.name,
            "mode": self.mode,
            "registry": str(self.registry_path),
        }
        if self.registry_path.is_file():
            import hashlib

            info["registry_bytes"] = self.registry_path.stat().st_size
            with self.registry_path.open("rb") as fh:
                info["registry_sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
            explain = self.registry_path.with_suffix(".explain.jsonl")  # the generator's records
            if explain.is_file():
                info["explain"] = str(explain)
                with explain.open("rb") as fh:
                    info["explain_sha256"] = hashlib.file_digest(fh, "sha256").hexdigest()
        return info

    def hot_path(self) -> Callable[[str], object]:
        self.open()
        if self.mode == "cached":
            assert self._cache is not None
            return self._cache.decide
        reg = self._reg
        assert reg is not None
        decide = reg.decide_cold  # compiled when available; bound once, like a caller would
        decide("")  # first use builds the optional compiled path outside any timed trial
        return decide

    def _analyze(self, tool: ToolInput) -> Assessment:
        t0 = time.perf_counter_ns()
        assert self._reg is not None
        raw = self._reg.get_bytes(tool.name)
        if raw is None or validate(raw):
            level, caps = RiskLevel.UNKNOWN, tuple[str, ...]()
            why = "not in registry" if raw is None else "invalid descriptor"
        else:
            desc = unpack(raw)
            level, caps = desc.risk_level, tuple(desc.capabilities)
            why = f"descriptor {raw.hex()}"
        elapsed = time.perf_counter_ns() - t0
        return Assessment(
            tool=tool.name,
            analyzer=self.name,
            status=Status.OK,
            risk_level=level,
            capabilities=caps,
            explanation=why,
            timing=Timing(service_ns=elapsed, total_ns=elapsed),
            model=ModelIdentity(model_id=f"tcp-registry:{self.registry_path.name}"),
        )
