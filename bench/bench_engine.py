"""Experiment-engine benchmarks (issue: engine §8).

(a) runner overhead: a ~10^6-decision tcp arm through the engine vs the bare decision loop in
    the same run: per-decision estimate (engine median) / bare per-decision time; target ≤ 1.05.
    The engine's wall time for the same decisions is reported too (it includes worker start-up,
    clock calibration and Parquet writes, which a longer run amortises).
(b) memory: peak RSS of a 10^6-trial tcp run vs a 10^5-trial run (inline executor, macro
    timing so the run is short), each in its own process; target ≤ 1.10.
(c) Ray: 2 workers vs 1 on the embedding arm (needs tcplab[ml,ray]); target ≥ 1.8×.
"""

from __future__ import annotations

import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from _harness import save
from tcplab.descriptor import RiskLevel, encode
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, read_trials, run_experiment
from tcplab.registry import DecisionCache, Registry, write_registry

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
EXE = Path(sys.executable).with_name("tcplab")


def _registry(tmp: Path, n: int = 1000) -> Path:
    path = tmp / "tools.tcpdb"
    write_registry(path, [(f"tool{i}", encode(f"tool{i}", LEVELS[i % 5])) for i in range(n)])
    return path


def _spec(tmp: Path, name: str, **kw: Any) -> Path:
    spec: dict[str, Any] = {
        "spec_version": 1,
        "name": name,
        "seed": 1,
        "warmup": 1,
        "executor": {"kind": "inline"},
    }
    spec.update(kw)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _overhead_once(tmp: Path) -> dict[str, Any]:
    tmp.mkdir()
    reg = _registry(tmp)
    tools = [f"tool{i}" for i in range(8)]
    spec_path = _spec(
        tmp,
        "overhead",
        tools={"kind": "list", "names": tools},
        iterations=4,
        arms=[{"name": "tcp", "analyzer": "tcp", "params": {"registry": str(reg)}}],
        shard_size=32,
    )
    spec = load_spec(spec_path, ["tcp"])
    run_dir, _m, _p = prepare_run(spec, tmp, tmp / "runs")
    t0 = time.perf_counter_ns()
    run_experiment(run_dir, executor=InlineExecutor())
    wall = time.perf_counter_ns() - t0
    t = read_trials(run_dir, ["tool", "latency_ns", "batch_ns", "batch_size"])
    decisions = sum(t["batch_size"].to_pylist())
    engine_per = statistics.median(t["latency_ns"].to_pylist())
    # the same decisions, the same loop shape, no engine: one timed loop per trial's tool
    with Registry(reg) as r:
        decide = DecisionCache(r).decide
        per_trial = []
        gc.disable()
        b0 = time.perf_counter_ns()
        for tool, n in zip(t["tool"].to_pylist(), t["batch_size"].to_pylist(), strict=True):
            s0 = time.perf_counter_ns()
            for _ in range(n):
                decide(tool)
            per_trial.append((time.perf_counter_ns() - s0) / n)
        bare = time.perf_counter_ns() - b0
        gc.enable()
    bare_per = statistics.median(per_trial)
    return {
        "name": "engine per-decision estimate / bare loop",
        "unit": "ratio",
        "ratio_median": engine_per / bare_per,
        "ratio_min": engine_per / bare_per,
        "ratio_max": engine_per / bare_per,
        "repeats": 1,
        "candidate_median": engine_per,
        "baseline_median": bare_per,
        "decisions": decisions,
        "engine_wall_s": wall / 1e9,
        "bare_loop_s": bare / 1e9,
        "engine_wall_over_bare": wall / bare,
    }


def bench_overhead(tmp: Path, repeats: int = 7) -> dict[str, Any]:
    runs = [_overhead_once(tmp / f"o{i}") for i in range(repeats)]
    ratios = sorted(r["ratio_median"] for r in runs)
    out = dict(runs[len(runs) // 2])
    out.update(
        ratio_median=statistics.median(ratios),
        ratio_min=ratios[0],
        ratio_max=ratios[-1],
        repeats=repeats,
        engine_wall_s=statistics.median(r["engine_wall_s"] for r in runs),
        bare_loop_s=statistics.median(r["bare_loop_s"] for r in runs),
        decisions=statistics.median(r["decisions"] for r in runs),
    )
    out["engine_wall_over_bare"] = out["engine_wall_s"] / out["bare_loop_s"]
    return out


def _peak_rss_of_run(tmp: Path, n_trials: int, *extra: str) -> float:
    reg = tmp / "tools.tcpdb"
    n_tools = 1000
    spec_path = _spec(
        tmp,
        f"mem{n_trials}",
        tools={"kind": "list", "names": [f"tool{i}" for i in range(n_tools)]},
        iterations=n_trials // n_tools,
        shard_size=5000,
        arms=[
            {"name": "tcp", "analyzer": "tcp", "timing": "macro", "params": {"registry": str(reg)}}
        ],
    )
    out = subprocess.run(
        [
            str(EXE),
            "run",
            str(spec_path),
            "--executor",
            "inline",
            "--out",
            str(tmp / "runs"),
            *extra,
        ],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # MiB, max so far


def bench_memory(tmp: Path) -> list[dict[str, Any]]:
    """Peak RSS of a 10^6- vs a 10^5-trial run, each in a fresh child process.

    RUSAGE_CHILDREN keeps the maximum over finished children, so the smaller run goes first
    and each pair gets its own parent-side measurement order. Engine alone (``--no-db``), then
    with the default SQLite store, whose end-of-run per-tool aggregation reads the run's
    latency column back (that part does grow with the run).
    """
    _registry(tmp)
    out = []
    for label, extra in (("engine, --no-db", ("--no-db",)), ("engine + SQLite store", ())):
        d = tmp / ("mem-db" if extra == () else "mem-nodb")
        d.mkdir()
        (d / "tools.tcpdb").write_bytes((tmp / "tools.tcpdb").read_bytes())
        small = _peak_rss_of_run(d, 100_000, *extra)
        large = _peak_rss_of_run(d, 1_000_000, *extra)
        out.append(
            {
                "name": f"peak RSS 10^6 / 10^5 trials ({label})",
                "unit": "MiB",
                "ratio_median": large / small,
                "ratio_min": large / small,
                "ratio_max": large / small,
                "repeats": 1,
                "candidate_median": large,
                "baseline_median": small,
            }
        )
    return out


def bench_ray_scaling(tmp: Path, n_tools: int = 60, iterations: int = 2) -> dict[str, Any]:
    """Embedding arm on Ray: trials/s with 2 workers vs 1 (torch 1 thread per worker).

    Throughput counts the whole ``run_experiment`` (actor start-up and model load included), on
    real documentation from the default corpus (``tcplab corpus scan`` first).
    """
    from tcplab.analyzers import default_corpus_path
    from tcplab.corpus import read_corpus
    from tcplab.experiment import make_executor

    corpus = default_corpus_path()
    names = sorted(r.name for r in read_corpus(corpus) if r.doc_source == "man")[:n_tools]
    rates: dict[int, float] = {}
    steady: dict[int, float] = {}
    for workers in (1, 2):
        d = tmp / f"ray{workers}"
        d.mkdir()
        spec_path = _spec(
            d,
            f"ray{workers}",
            tools={"kind": "list", "names": names},
            iterations=iterations,
            shard_size=10,
            corpus=str(corpus),
            arms=[
                {
                    "name": "embedding",
                    "analyzer": "embedding",
                    "params": {"mode": "zero-shot", "threads": 1},
                }
            ],
        )
        spec = load_spec(spec_path, ["embedding"])
        run_dir, _m, plan = prepare_run(spec, d, d / "runs")
        t0 = time.perf_counter()
        run_experiment(run_dir, executor=make_executor("ray", workers))
        rates[workers] = plan.n_trials / (time.perf_counter() - t0)
        t = read_trials(run_dir, ["started_at_ns", "finished_at_ns"])
        span = (max(t["finished_at_ns"].to_pylist()) - min(t["started_at_ns"].to_pylist())) / 1e9
        steady[workers] = plan.n_trials / span
    ratio = rates[2] / rates[1]
    return {
        "name": "Ray embedding arm: 2 workers / 1 worker (trials/s)",
        "unit": "trials/s",
        "ratio_median": ratio,
        "ratio_min": ratio,
        "ratio_max": ratio,
        "repeats": 1,
        "candidate_median": rates[2],
        "baseline_median": rates[1],
        "higher_is_better": True,
        "steady_state_ratio": steady[2] / steady[1],
        "steady_state_trials_per_s": steady,
        "note": "wall ratio includes Ray actor start-up and model load in each worker; "
        "steady state = trials / (last trial end - first trial start)",
    }


def main() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        results = [bench_overhead(tmp), *bench_memory(tmp)]
        try:
            results.append(bench_ray_scaling(tmp))
        except ImportError as exc:  # tcplab[ml,ray] not installed
            results.append({"name": "Ray embedding scaling", "skipped": str(exc)})
    save("engine", results)
    return results


if __name__ == "__main__":
    from _harness import report

    res = main()
    report(res)
    print(json.dumps(res[0], indent=1))
