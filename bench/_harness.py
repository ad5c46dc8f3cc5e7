"""Tiny benchmark harness: interleaved repeats, ratios against a baseline measured in the same run.

Each benchmark times a candidate and a baseline alternately (``repeats`` rounds) so drift on a
noisy machine hits both; the reported figure is the median of the per-round ratios with the
min-max range. Results are also written as JSON under ``bench/results/``.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results"


def time_loop(fn: Callable[[], Any], loops: int) -> float:
    """Seconds per call of ``fn`` over ``loops`` calls, GC off, empty-loop cost subtracted."""
    gc_was = gc.isenabled()
    gc.disable()
    try:
        rng = range(loops)
        t0 = time.perf_counter_ns()
        for _ in rng:
            pass
        empty = time.perf_counter_ns() - t0
        t0 = time.perf_counter_ns()
        for _ in rng:
            fn()
        total = time.perf_counter_ns() - t0
    finally:
        if gc_was:
            gc.enable()
    return max(total - empty, 1) / loops / 1e9


def compare(
    name: str,
    candidate: Callable[[], float],
    baseline: Callable[[], float],
    *,
    repeats: int = 15,
    unit: str = "s",
    higher_is_better: bool = False,
) -> dict[str, Any]:
    """Run candidate and baseline alternately; return medians and the ratio candidate/baseline."""
    cand, base, ratios = [], [], []
    for _ in range(repeats):
        c = candidate()
        b = baseline()
        cand.append(c)
        base.append(b)
        ratios.append(c / b)
    result = {
        "name": name,
        "unit": unit,
        "candidate_median": statistics.median(cand),
        "baseline_median": statistics.median(base),
        "ratio_median": statistics.median(ratios),
        "ratio_min": min(ratios),
        "ratio_max": max(ratios),
        "repeats": repeats,
        "higher_is_better": higher_is_better,
    }
    return result


def save(suite: str, results: list[dict[str, Any]]) -> Path:
    """Write results with environment metadata to ``bench/results/SUITE.json``."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{suite}.json"
    doc = {
        "suite": suite,
        "when": datetime.now(UTC).isoformat(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "results": results,
    }
    path.write_text(json.dumps(doc, indent=2))
    return path


def report(results: list[dict[str, Any]]) -> None:
    """Print one line per result."""
    for r in results:
        if "ratio_median" in r:
            print(
                f"{r['name']:<50} ratio {r['ratio_median']:8.3f} "
                f"(range {r['ratio_min']:.3f}-{r['ratio_max']:.3f}, {r['repeats']} rounds; "
                f"candidate {r['candidate_median']:.4g} {r['unit']}, "
                f"baseline {r['baseline_median']:.4g} {r['unit']})"
            )
        else:
            extra = {k: v for k, v in r.items() if k not in ("name", "unit")}
            print(f"{r['name']:<50} {extra}")


# --- the tail shared by the service benches (bench_service_load.py, bench_metrics_scrape.py) ---


@contextmanager
def pg_schemas(pg_url: str, prefix: str, keys: tuple[str, ...]) -> Iterator[dict[str, str]]:
    """Fresh PostgreSQL schemas, one per key: ``{key: URL whose search_path is it}``; the
    schemas are dropped afterwards."""
    import uuid

    import psycopg

    schemas = {k: f"{prefix}_{k}_{uuid.uuid4().hex[:8]}" for k in keys}
    with psycopg.connect(pg_url, autocommit=True) as admin:
        for s in schemas.values():
            admin.execute(f"CREATE SCHEMA {s}")
    sep = "&" if "?" in pg_url else "?"
    try:
        yield {k: f"{pg_url}{sep}options=-csearch_path%3D{s}" for k, s in schemas.items()}
    finally:
        with psycopg.connect(pg_url, autocommit=True) as admin:
            for s in schemas.values():
                admin.execute(f"DROP SCHEMA {s} CASCADE")


def stop_all(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate the processes a bench started and wait for them."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
            p.wait(timeout=60)


def emit(bench: str, figures: dict[str, Any]) -> Path:
    """Write ``bench/results/BENCH.json`` (with time, machine and load average) and print it."""
    result = {
        "bench": bench,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        },
        **figures,
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{bench}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    sys.stdout.write(json.dumps(result, indent=2) + "\n")
    return path
