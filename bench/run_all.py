"""Run every benchmark suite in bench/ and print their ratios (``make bench``)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # bench/ is a folder of scripts, not a package

import bench_descriptor
from _harness import report

SUITES = [bench_descriptor]

if __name__ == "__main__":
    for suite in SUITES:
        print(f"== {suite.__name__}")
        report(suite.main())
