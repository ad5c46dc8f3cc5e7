"""Run every benchmark suite in bench/ and print their ratios (``make bench``).

Run as ``python bench/run_all.py``: Python puts this script's folder first on the module path,
so the sibling suites import directly. Suites whose optional extras are missing are reported as
skipped, with the reason.

Standalone scripts with their own options are run by hand (each prints its ratios):
``bench_service_load.py`` and ``bench_metrics_scrape.py`` (a PostgreSQL URL), ``bench_generator.py``
(a corpus), ``bench_monitor_gpu.py`` and ``gpu_check.py`` (a GPU; ``make test-gpu``).
"""

from __future__ import annotations

import importlib
import sys

from _harness import report

SUITES = [
    "bench_accel",
    "bench_check",
    "bench_cli",
    "bench_descriptor",
    "bench_engine",
    "bench_embedding",
    "bench_llm",
    "bench_monitor",
    "bench_store",
]

if __name__ == "__main__":
    only = sys.argv[1:]
    for name in SUITES:
        if only and name not in only:
            continue
        print(f"== {name}")
        try:
            suite = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            print(f"   skipped: {exc}")
            continue
        report(suite.main())
