"""GPU checks of the ``cuda`` accelerator (issue 18 §3), for a machine with an NVIDIA GPU.

1. Correctness: the CUDA backend against the numpy oracle on 10^8 random and mutated
   descriptors (GPU_CHECK_ROWS), in chunks, through the host pipeline (streams, pinned buffers).
2. Kernel throughput on data already on the device, as a ratio to a device-to-device copy of
   the same bytes in the same run (target >= 0.5 of the copy bandwidth): copy time / kernel
   time for the same N×24 input bytes (the copy reads and writes them; the kernel reads them
   and writes N bytes).
3. End to end with host transfers (``decide`` on a host array), as a ratio to a plain
   host-to-device copy of the same bytes.
4. NVML telemetry (tcplab.monitor's ``gpu`` source, every 100 ms) during the run.

Run: ``python bench/gpu_check.py`` (``make test-gpu``); ``--preflight`` only checks that the
backend can run. Without a GPU, driver or numba-cuda it exits 1 with the reason and prints no
figure.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from typing import Any

import numpy as np

from tcplab.accel import (
    create,
    decide_numpy,
    interop_vectors,
    random_batch,
    random_chunks,
    single_bit_corruptions,
)
from tcplab.errors import TcplabError

ROWS = int(os.environ.get("GPU_CHECK_ROWS", str(10**8)))
CHUNK = 10**7
PERF_ROWS = int(os.environ.get("GPU_CHECK_PERF_ROWS", str(50_000_000)))
REPEAT = 5


def _preflight() -> Any:
    acc = create("cuda")
    try:
        acc.open()
    except TcplabError as exc:
        sys.exit(f"no GPU figures: {exc}")
    return acc


def _timed_ms(cuda: Any, fn: Any) -> float:
    times = []
    for _ in range(REPEAT):
        start, end = cuda.event(), cuda.event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return float(statistics.median(times))


def correctness(acc: Any) -> dict[str, Any]:
    v = interop_vectors()
    assert acc.decide(v).equals(decide_numpy(v)), "interop vectors differ from the oracle"
    flips = single_bit_corruptions(v)
    assert acc.decide(flips).equals(decide_numpy(flips)), "bit flips differ from the oracle"
    t0, checked = time.perf_counter(), 0
    for i, rows in enumerate(random_chunks(ROWS, CHUNK, seed=18)):
        if not acc.decide(rows).equals(decide_numpy(rows)):
            raise SystemExit(f"MISMATCH in chunk {i}: the cuda backend differs from the oracle")
        checked += rows.shape[0]
    return {"rows_checked": checked, "bit_exact": True, "seconds": time.perf_counter() - t0}


def throughput(acc: Any) -> dict[str, Any]:
    from numba import cuda

    rows = random_batch(PERF_ROWS, seed=99)
    words = rows.view(np.uint32)
    d_words = cuda.to_device(words)
    d_copy = cuda.device_array_like(d_words)
    d_out = cuda.device_array(PERF_ROWS, dtype=np.uint8)
    acc.launch(d_words, d_out, PERF_ROWS)  # warm-up (compiles the kernel)
    cuda.synchronize()
    kernel_ms = _timed_ms(cuda, lambda: acc.launch(d_words, d_out, PERF_ROWS))
    copy_ms = _timed_ms(cuda, lambda: d_copy.copy_to_device(d_words))
    h2d_ms = _timed_ms(cuda, lambda: cuda.to_device(words))
    pinned = cuda.pinned_array(words.shape, dtype=np.uint32)
    pinned[:] = words
    h2d_pinned_ms = _timed_ms(cuda, lambda: cuda.to_device(pinned))
    acc.decide(rows)  # warm-up: allocates the pinned and device buffers once
    e2e = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        acc.decide(rows)
        e2e.append((time.perf_counter() - t0) * 1e3)
    e2e_ms = statistics.median(e2e)
    nbytes = rows.nbytes
    return {
        "rows": PERF_ROWS,
        "bytes": nbytes,
        "kernel_ms": kernel_ms,
        "d2d_copy_ms": copy_ms,
        "kernel_over_d2d_copy_bandwidth": copy_ms / kernel_ms,
        "kernel_rows_per_s": PERF_ROWS / (kernel_ms / 1e3),
        "h2d_pageable_ms": h2d_ms,
        "h2d_pinned_ms": h2d_pinned_ms,
        "end_to_end_ms": e2e_ms,
        "end_to_end_over_h2d_pageable": h2d_ms / e2e_ms,
        "end_to_end_over_h2d_pinned": h2d_pinned_ms / e2e_ms,
    }


def main() -> dict[str, Any]:
    acc = _preflight()
    if sys.argv[1:] == ["--preflight"]:
        return {"preflight": "ok", "describe": acc.describe()}
    from tcplab.monitor import BackgroundSampler, SourceOptions, make_sources

    got: list[Any] = []
    sampler = BackgroundSampler(
        make_sources(["gpu"], SourceOptions()), 0.1, sink=got.extend, flush_every=0.5
    )
    sampler.open_sources()
    sampler.start()
    try:
        out: dict[str, Any] = {"describe": acc.describe(), "correctness": correctness(acc)}
        out["throughput"] = throughput(acc)
    finally:
        sampler.stop()

    def values(name: str) -> list[float]:
        return [p.value for s in got for p in s.points if p.name == name]

    util, power = values("gpu_utilization_percent"), values("gpu_power_watts")
    out["nvml"] = {
        "available": sampler.status["gpu"].available,
        "samples": len(util),
        "utilization_percent_median": statistics.median(util) if util else None,
        "utilization_percent_max": max(util) if util else None,
        "power_watts_median": statistics.median(power) if power else None,
        "power_watts_max": max(power) if power else None,
    }
    acc.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
