"""Descriptor benchmarks (issue: foundation §4).

(a) cached decision vs a bare ``dict.get`` of the same key      target ≤ 2×
(b) cold decision (lookup + validate + decode) vs ``dict.get``    target ≤ 10×
    (the compiled path when a C compiler is available, bound or through ``decide_cold``; the
    pure-Python fallback is reported next to it)
(c) batch validation throughput vs a numpy copy of the same array target ≥ 25% of copy bandwidth
(d) opening a 100,000-entry registry (header + whole-file CRC)    target well under 100 ms
(e) ``tcplab descriptor validate`` on 10^6 lines                  target: seconds, constant memory
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from _harness import compare, save, time_loop
from tcplab.descriptor import RiskLevel, encode, validate_batch
from tcplab.registry import DecisionCache, Registry, decide_cold, write_registry

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]


def _registry(tmp: Path, n: int) -> Path:
    path = tmp / f"r{n}.tcpdb"
    write_registry(path, [(f"tool-{i}", encode(f"tool-{i}", LEVELS[i % 5])) for i in range(n)])
    return path


def bench_decisions(tmp: Path) -> list[dict[str, Any]]:
    path = _registry(tmp, 1000)
    reg = Registry(path)
    cache = DecisionCache(reg)
    plain = {f"tool-{i}": cache.decide(f"tool-{i}") for i in range(1000)}
    key = "tool-417"
    get = plain.get
    decide = cache.decide
    decide_cold(reg, key)  # picks (and if needed builds) the compiled path outside the timing
    bound = reg.decide_cold
    python_cold = reg.cold_decider(native=False)
    loops = 1_000_000
    out = [
        compare(
            "cached decision / dict.get",
            lambda: time_loop(lambda: decide(key), loops),
            lambda: time_loop(lambda: get(key), loops),
        ),
        compare(
            "cold decision, decide_cold(reg, name) / dict.get",
            lambda: time_loop(lambda: decide_cold(reg, key), loops // 10),
            lambda: time_loop(lambda: get(key), loops // 10),
        ),
        compare(
            "cold decision, bound reg.decide_cold / dict.get",
            lambda: time_loop(lambda: bound(key), loops // 10),
            lambda: time_loop(lambda: get(key), loops // 10),
        ),
        compare(
            "cold decision, pure-Python fallback / dict.get",
            lambda: time_loop(lambda: python_cold(key), loops // 10),
            lambda: time_loop(lambda: get(key), loops // 10),
            repeats=7,
        ),
    ]
    for res in out[1:3]:
        res["compiled"] = type(bound).__name__ == "builtin_function_or_method"
    reg.close()
    return out


def bench_batch() -> dict[str, Any]:
    rng = np.random.default_rng(0)
    rows = [
        encode(f"tool-{i}", LEVELS[i % 5], exec_time_ms=int(rng.integers(0, 999)))
        for i in range(4096)
    ]
    base = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 24)
    arr = np.ascontiguousarray(np.tile(base, (256, 1)))  # 1,048,576 × 24 = 24 MiB, all valid
    dst = np.empty_like(arr)
    validate_batch(arr[:10])  # JIT compile outside the timing

    def run_validate() -> float:
        t0 = time.perf_counter_ns()
        validate_batch(arr)
        return arr.nbytes / ((time.perf_counter_ns() - t0) / 1e9)

    def run_copy() -> float:
        t0 = time.perf_counter_ns()
        np.copyto(dst, arr)
        return arr.nbytes / ((time.perf_counter_ns() - t0) / 1e9)

    res = compare(
        "batch validation / numpy copy (bytes/s)",
        run_validate,
        run_copy,
        repeats=21,
        unit="B/s",
        higher_is_better=True,
    )
    res["rows"] = int(arr.shape[0])
    res["descriptors_per_s_median"] = res["candidate_median"] / 24
    return res


def bench_open(tmp: Path) -> dict[str, Any]:
    path = _registry(tmp, 100_000)

    def open_ms() -> float:
        t0 = time.perf_counter_ns()
        reg = Registry(path)
        dt = (time.perf_counter_ns() - t0) / 1e6
        reg.close()
        return dt

    def read_ms() -> float:
        t0 = time.perf_counter_ns()
        path.read_bytes()
        return (time.perf_counter_ns() - t0) / 1e6

    res = compare("open 100k-entry registry / read its bytes", open_ms, read_ms, unit="ms")
    res["file_bytes"] = path.stat().st_size
    return res


_PEAK_RSS = (
    "import resource, subprocess, sys, time\n"
    "t0 = time.perf_counter()\n"
    "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
    "print(rc, time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
)


def bench_validate_cli(tmp: Path) -> dict[str, Any]:
    rows = [encode(f"tool-{i}", LEVELS[i % 5]).hex() for i in range(1000)]
    path = tmp / "lines.txt"
    path.write_text("\n".join(rows * 1000) + "\n")
    exe = Path(sys.executable).with_name("tcplab")
    # A fresh parent process, so that RUSAGE_CHILDREN holds this one command's peak RSS.
    out = subprocess.run(
        [sys.executable, "-c", _PEAK_RSS, str(exe), "descriptor", "validate", "--input", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    t0 = time.perf_counter()
    subprocess.run([str(exe), "--help"], stdout=subprocess.DEVNULL, check=False)
    startup = time.perf_counter() - t0
    return {
        "name": "tcplab descriptor validate, 10^6 lines",
        "unit": "s",
        "seconds": float(out[1]),
        "peak_rss_mib": int(out[2]) / 1024,
        "input_mib": path.stat().st_size / 2**20,
        "cli_startup_seconds": startup,
        "exit_code": int(out[0]),
    }


def main() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        results = [*bench_decisions(tmp), bench_batch(), bench_open(tmp), bench_validate_cli(tmp)]
    save("descriptor", results)
    return results


if __name__ == "__main__":
    from _harness import report

    report(main())
