"""CLI start-up benchmarks: agents and scripts call the CLI once per decision.

Each command runs as a fresh process through the real console script, interleaved with
``python -c pass`` (the interpreter's own start-up, measured in the same rounds), so the figures
are wall-clock medians and ratios against that baseline on the same machine at the same time.

    tcplab descriptor decode HEX --json           target ≤ 150 ms
    tcplab registry lookup FILE TOOL --json       target ≤ 150 ms (1,500 and 100,000 entries)
    tcplab --help                                 target ≤ 250 ms

Run as ``python bench/bench_cli.py``; writes ``bench/results/cli.json``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _harness import compare, save
from tcplab.descriptor import RiskLevel, encode
from tcplab.registry import write_registry

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
TCPLAB = Path(sys.executable).with_name("tcplab")
TARGET_MS = {"decode": 150.0, "lookup": 150.0, "help": 250.0}


def _wall(argv: list[str]) -> Callable[[], float]:
    def run() -> float:
        t0 = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return (time.perf_counter() - t0) * 1e3

    return run


def _registry(tmp: Path, n: int) -> Path:
    path = tmp / f"r{n}.tcpdb"
    write_registry(path, [(f"tool-{i}", encode(f"tool-{i}", LEVELS[i % 5])) for i in range(n)])
    return path


def main(repeats: int = 21) -> list[dict[str, Any]]:
    hex_ = encode("git", "MEDIUM_RISK", ["NETWORK_ACCESS"]).hex()
    baseline = _wall([sys.executable, "-c", "pass"])
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        small, big = _registry(tmp, 1500), _registry(tmp, 100_000)
        lookup = ["registry", "lookup"]
        cases = [
            ("decode", "descriptor decode HEX --json", ["descriptor", "decode", hex_, "--json"]),
            (
                "lookup",
                "registry lookup --json (1,500)",
                [*lookup, str(small), "tool-417", "--json"],
            ),
            (
                "lookup",
                "registry lookup --json (100,000)",
                [*lookup, str(big), "tool-4170", "--json"],
            ),
            ("lookup", "registry lookup, absent (1,500)", [*lookup, str(small), "nope", "--json"]),
            ("help", "--help", ["--help"]),
        ]
        for _kind, _name, args in cases:  # warm the page cache and the compiled bytecode
            _wall([str(TCPLAB), *args])()
        results = []
        for kind, name, args in cases:
            res = compare(
                f"tcplab {name} / python -c pass",
                _wall([str(TCPLAB), *args]),
                baseline,
                repeats=repeats,
                unit="ms",
            )
            res["target_ms"] = TARGET_MS[kind]
            res["meets_target"] = res["candidate_median"] <= TARGET_MS[kind]
            results.append(res)
    save("cli", results)
    return results


if __name__ == "__main__":
    from _harness import report

    out = main()
    report(out)
    for r in out:
        verdict = "meets" if r["meets_target"] else "MISSES"
        print(f"  {r['name']}: {r['candidate_median']:.1f} ms, {verdict} ≤ {r['target_ms']:.0f} ms")
