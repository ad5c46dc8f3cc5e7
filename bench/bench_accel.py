"""Accelerator backends (issue 18 §4): ratios measured in one run on this machine.

* ``cpu`` backend vs a copy of the same array (larger than the last-level cache): serial
  kernel vs ``numpy.copyto`` (one thread), parallel kernel vs a numba ``prange`` copy with the
  same thread count. A ratio of 1.0 would mean deciding costs as much as reading and writing
  the bytes once (the copy writes 24 bytes per row, the decision 4).
* numpy oracle vs the numba kernel (serial) on the same rows.

The GPU figures come from ``bench/gpu_check.py`` on a GPU machine (``make test-gpu``).
Run: ``python bench/bench_accel.py`` (BENCH_ACCEL_ROWS, default 8M rows = 192 MB).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numba
import numpy as np

from _harness import compare, report, save
from tcplab.accel import create, random_batch

ROWS = int(os.environ.get("BENCH_ACCEL_ROWS", str(8_000_000)))
ORACLE_ROWS = 1_000_000


@numba.njit(parallel=True, nogil=True)
def _parallel_copy(src: Any, dst: Any) -> None:  # pragma: no cover - compiled
    n = src.shape[0]
    for i in numba.prange(n):
        dst[i] = src[i]


def _timer(fn: Any) -> Any:
    def run() -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    return run


def main() -> list[dict[str, Any]]:
    load_before = os.getloadavg()
    rows = random_batch(ROWS, seed=4)
    dst = np.empty_like(rows)
    words, dwords = rows.view(np.uint64), dst.view(np.uint64)
    serial, parallel = create("cpu", threads=1), create("cpu")
    serial.open()
    parallel.open()
    _parallel_copy(words, dwords)
    threads = numba.get_num_threads()
    results = [
        compare(
            f"cpu serial decide / memcpy ({rows.nbytes >> 20} MiB, 1 thread)",
            _timer(lambda: serial.decide(rows)),
            _timer(lambda: np.copyto(dst, rows)),
            repeats=9,
        ),
        compare(
            f"cpu parallel decide / parallel copy ({threads} threads)",
            _timer(lambda: parallel.decide(rows)),
            _timer(lambda: _parallel_copy(words, dwords)),
            repeats=9,
        ),
    ]
    small = rows[:ORACLE_ROWS]
    oracle = create("numpy")
    results.append(
        compare(
            f"numpy oracle / numba serial ({ORACLE_ROWS} rows)",
            _timer(lambda: oracle.decide(small)),
            _timer(lambda: serial.decide(small)),
            repeats=5,
        )
    )
    for r in results[:2]:
        r["decide_rows_per_s"] = ROWS / r["candidate_median"]
        r["copy_gb_per_s"] = rows.nbytes / r["baseline_median"] / 1e9
    results.append(
        {
            "name": "machine",
            "rows": ROWS,
            "array_mib": rows.nbytes >> 20,
            "cpus": os.cpu_count(),
            "numba_threads": threads,
            "loadavg_before": load_before,
            "loadavg_after": os.getloadavg(),
        }
    )
    save("accel", results)
    return results


if __name__ == "__main__":
    report(main())
