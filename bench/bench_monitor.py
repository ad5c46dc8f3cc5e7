"""Resource sampler overhead (issue 14 §1, §6): CPU share of one core at 1 s and 100 ms.

For each interval, rounds alternate between an idle process (baseline: the same process,
sleeping for the same wall time, no sampler) and the same process with a BackgroundSampler
running every source and flushing to Parquet in a temporary directory (candidate). The figure
is the extra process CPU time divided by wall time — the share of one core the sampler costs —
next to the sampler thread's own CPU time; the ratio is candidate / baseline CPU share.
Target (issue 14): ≤ 1% of one core at 1 s. Environment: BENCH_SECONDS (default 10 per round),
BENCH_ROUNDS (default 3). A short warm-up round per interval (imports, NVML probe, first
Parquet write) is discarded.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import save
from tcplab.monitor import BackgroundSampler, MetricsWriter, SourceOptions, make_sources

SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def _idle(seconds: float) -> float:
    cpu0, t0 = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return (time.process_time() - cpu0) / (time.monotonic() - t0)


def _sampled(seconds: float, interval: float, out: Path) -> tuple[float, float, int]:
    writer = MetricsWriter(out)
    sampler = BackgroundSampler(make_sources(None, SourceOptions()), interval, sink=writer)
    cpu0, t0 = time.process_time(), time.monotonic()
    sampler.start()
    time.sleep(seconds)
    sampler.stop()
    wall = time.monotonic() - t0
    return (time.process_time() - cpu0) / wall, sampler.thread_cpu_seconds / wall, sampler.ticks


def _interval(interval: float, tmp: Path) -> dict[str, Any]:
    base, cand, thread, ticks = [], [], [], 0
    _sampled(min(SECONDS, 2.0), interval, tmp / f"{interval}-warmup")  # imports, first writes
    for i in range(ROUNDS):
        base.append(_idle(SECONDS))
        c, t, n = _sampled(SECONDS, interval, tmp / f"{interval}-{i}")
        cand.append(c)
        thread.append(t)
        ticks += n
    extra = [c - b for c, b in zip(cand, base, strict=True)]
    return {
        "name": f"sampler overhead at {interval:g} s (share of one core)",
        "unit": "core share",
        "interval_s": interval,
        "candidate_median": statistics.median(cand),
        "baseline_median": statistics.median(base),
        "extra_core_share_median": statistics.median(extra),
        "extra_core_share_max": max(extra),
        "sampler_thread_core_share_median": statistics.median(thread),
        "ratio_median": statistics.median(cand) / max(statistics.median(base), 1e-9),
        "ratio_min": min(c / max(b, 1e-9) for c, b in zip(cand, base, strict=True)),
        "ratio_max": max(c / max(b, 1e-9) for c, b in zip(cand, base, strict=True)),
        "repeats": ROUNDS,
        "ticks": ticks,
        "seconds_per_round": SECONDS,
    }


def main() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        results = [_interval(1.0, Path(tmp)), _interval(0.1, Path(tmp))]
    save("monitor", results)
    return results


if __name__ == "__main__":
    from _harness import report

    for r in main():
        report([r])
        print(
            f"   extra share of one core: median {r['extra_core_share_median']:.4%} "
            f"(max {r['extra_core_share_max']:.4%}); sampler thread alone "
            f"{r['sampler_thread_core_share_median']:.4%}; {r['ticks']} ticks"
        )
