"""GPU source through NVML (``nvidia-ml-py``): utilisation, memory, power, temperature,
clocks and throttle reasons per device. Without the library, the driver or a device the
source is recorded as unavailable with the reason."""

from __future__ import annotations

import contextlib
from typing import Any

from tcplab.monitor._model import Point
from tcplab.monitor._sources import Sampler, SourceOptions, SourceUnavailable, register_source

__all__ = ["THROTTLE_REASONS", "NvmlSource"]

#: NVML clock throttle (clock event) reason bits -> the ``reason`` label of ``gpu_throttled``
THROTTLE_REASONS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal",
    0x40: "hw_thermal",
    0x80: "hw_power_brake",
    0x100: "display_clock_setting",
}


def _nvml() -> Any:
    try:
        import pynvml  # type: ignore[import-untyped,unused-ignore]
    except ImportError as exc:
        raise SourceUnavailable(
            "nvidia-ml-py is not installed: pip install 'tcplab[monitor]' "
            "(or pip install nvidia-ml-py)"
        ) from exc
    return pynvml


class NvmlSource(Sampler):
    """One set of points per NVIDIA GPU (label ``gpu``: the device index)."""

    name = "gpu"

    def __init__(self, options: SourceOptions) -> None:
        self.nv: Any = None
        self.handles: list[Any] = []

    def open(self) -> None:
        nv = _nvml()
        try:
            nv.nvmlInit()
        except nv.NVMLError as exc:
            raise SourceUnavailable(f"NVML cannot start: {exc}") from exc
        self.nv = nv
        n = nv.nvmlDeviceGetCount()
        if n == 0:
            self.close()
            raise SourceUnavailable("NVML found no GPU")
        self.handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(n)]

    def _device(self, i: int, h: Any) -> list[Point]:
        nv = self.nv
        lb = {"gpu": str(i)}
        util = nv.nvmlDeviceGetUtilizationRates(h)
        mem = nv.nvmlDeviceGetMemoryInfo(h)
        values = {
            "gpu_utilization_percent": float(util.gpu),
            "gpu_memory_utilization_percent": float(util.memory),
            "gpu_memory_used_bytes": float(mem.used),
            "gpu_memory_total_bytes": float(mem.total),
            "gpu_temperature_celsius": float(
                nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU)
            ),
            "gpu_sm_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM)),
            "gpu_memory_clock_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM)),
            "gpu_throttle_reasons": float(nv.nvmlDeviceGetCurrentClocksThrottleReasons(h)),
        }
        with contextlib.suppress(nv.NVMLError):  # some boards do not report power
            values["gpu_power_watts"] = nv.nvmlDeviceGetPowerUsage(h) / 1000.0
        out = [Point(name=k, value=v, labels=lb) for k, v in values.items()]
        mask = int(values["gpu_throttle_reasons"])
        for bit, reason in THROTTLE_REASONS.items():
            value = 1.0 if mask & bit else 0.0
            out.append(Point(name="gpu_throttled", value=value, labels={**lb, "reason": reason}))
        return out

    def sample(self) -> list[Point]:
        out: list[Point] = []
        for i, h in enumerate(self.handles):
            out += self._device(i, h)
        return out

    def close(self) -> None:
        if self.nv is not None:
            try:
                self.nv.nvmlShutdown()
            finally:
                self.nv = None


register_source(NvmlSource.name, NvmlSource)
