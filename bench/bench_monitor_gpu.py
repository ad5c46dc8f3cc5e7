"""NVML sampling during a GPU workload (issue 14 §6): for a machine with an NVIDIA GPU.

Samples the `gpu` source every 100 ms while torch multiplies matrices on the GPU for
BENCH_SECONDS (default 10), and prints the utilisation and power seen before and during the
load. Without a GPU, NVML or a CUDA build of torch it exits with status 1 and the reason (no
figure is invented). Run: `python bench/bench_monitor_gpu.py`.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

from tcplab.monitor import BackgroundSampler, Snapshot, SourceOptions, make_sources

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))


def _values(snaps: list[Snapshot], name: str) -> list[float]:
    return [p.value for s in snaps for p in s.points if p.name == name]


def _load(seconds: float) -> None:
    import torch

    a = torch.randn(8192, 8192, device="cuda")
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        a = (a @ a).clamp_(-1.0, 1.0)
    torch.cuda.synchronize()


def main() -> dict[str, Any]:
    got: list[Snapshot] = []
    sampler = BackgroundSampler(
        make_sources(["gpu"], SourceOptions()), 0.1, sink=got.extend, flush_every=0.5
    )
    sampler.open_sources()
    if not sampler.status["gpu"].available:
        sys.exit(f"no GPU figures: gpu source {sampler.status['gpu'].describe()}")
    try:
        import torch

        if not torch.cuda.is_available():
            sys.exit("no GPU figures: torch has no CUDA device (install a CUDA build of torch)")
    except ImportError:
        sys.exit("no GPU figures: torch is not installed (pip install torch)")
    idle = sampler.sample_once()
    sampler.start()
    _load(SECONDS)
    sampler.stop()
    busy = got
    out = {
        "idle_utilization_percent": _values(idle, "gpu_utilization_percent"),
        "idle_power_watts": _values(idle, "gpu_power_watts"),
        "load_utilization_percent_median": statistics.median(
            _values(busy, "gpu_utilization_percent")
        ),
        "load_power_watts_median": (
            statistics.median(power) if (power := _values(busy, "gpu_power_watts")) else None
        ),
        "ticks": sampler.ticks,
    }
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
