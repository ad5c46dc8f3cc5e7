"""Fixtures: real small runs (tcp and fake arms) and synthetic runs written as trial shards."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from tcplab.analyzers import default_registry
from tcplab.descriptor import encode
from tcplab.experiment import (
    InlineExecutor,
    load_spec,
    prepare_run,
    run_experiment,
    write_run_from_trials,
)
from tcplab.experiment.trials import to_table
from tcplab.registry import write_registry

LEVELS = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]


@pytest.fixture(scope="session")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A completed run: 30 labelled tools x 3 iterations x (tcp, fake SAFE, fake failing on two
    tools, fake failing on every tool)."""
    base = tmp_path_factory.mktemp("real-run")
    tools = [f"tool{i:02d}" for i in range(30)]
    reg = base / "tools.tcpdb"
    write_registry(reg, [(t, encode(t, LEVELS[i % 5])) for i, t in enumerate(tools)])
    labels = base / "labels.csv"
    rows = ["command,risk_level,capabilities,rationale,labeler"]
    for i, t in enumerate(tools):
        level = "CRITICAL" if t == "tool00" else LEVELS[i % 5]
        rows.append(f"{t},{level},,synthetic label for report tests,test")
    labels.write_text("\n".join(rows) + "\n")
    spec: dict[str, Any] = {
        "spec_version": 1,
        "name": "report test",
        "labels": str(labels),
        "tools": {"kind": "labeled"},
        "arms": [
            {"name": "tcp", "analyzer": "tcp", "params": {"registry": str(reg)}},
            {"name": "fake", "analyzer": "fake", "params": {"level": "SAFE"}},
            {
                "name": "flaky",
                "analyzer": "fake",
                "params": {"level": "MEDIUM_RISK", "fail": ["tool03", "tool07"]},
            },
            {  # every call fails, like an LLM arm whose server refuses connections
                "name": "down",
                "analyzer": "fake",
                "params": {"level": "SAFE", "fail": tools},
            },
        ],
        "iterations": 3,
        "warmup": 1,
        "seed": 7,
        "shard_size": 30,
        "executor": {"kind": "inline", "workers": 1},
        "micro_min_batch_ns": 200_000,
    }
    spec_path = base / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    parsed = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(parsed, base, base / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    return run_dir


SyntheticRun = Callable[..., Path]


def make_synthetic_run(
    out: Path,
    *,
    n_tools: int = 400,
    arms: tuple[str, ...] = ("tcp", "rules", "embed", "llm"),
    iterations: int = 3,
    seed: int = 1,
    run_id: str = "synthetic",
    slow: dict[str, float] | None = None,
    shard_size: int = 1000,
    warnings: list[str] | None = None,
) -> Path:
    """Write a run directory with trials drawn at random (no analyzer runs).

    Arm ``i`` is right with probability ``0.9 - 0.1 i``; the ``llm`` arm reports a cost,
    explanations, a few parse failures and cache hits; ``slow`` multiplies an arm's latency.
    The run is written as an ordinary run directory (plan, record, checksummed shards).
    """
    rng = np.random.default_rng(seed)
    run_dir = out / run_id
    tools = [f"t{i:04d}" for i in range(n_tools)]
    truth = rng.integers(0, 5, n_tools)
    base_lat = {a: 10 ** (3 + i) for i, a in enumerate(arms)}
    tool_factor = rng.lognormal(0, 0.5, n_tools)
    records: list[dict[str, Any]] = []
    seq = 0
    for it in range(iterations):
        for ti, tool in enumerate(tools):
            for ai, arm in enumerate(arms):
                llm = arm == "llm"
                right = rng.random() < 0.9 - 0.1 * ai
                pred = int(truth[ti]) if right else int(rng.integers(0, 5))
                status = "PARSE_FAILURE" if llm and rng.random() < 0.02 else "OK"
                risk = LEVELS[pred] if status == "OK" else "UNKNOWN"
                cache = llm and it > 0 and rng.random() < 0.1
                lat = base_lat[arm] * tool_factor[ti] * rng.lognormal(0, 0.1)
                lat *= (slow or {}).get(arm, 1.0)
                records.append(
                    {
                        "run_id": run_id,
                        "shard": seq // shard_size,
                        "seq": seq,
                        "tool": tool,
                        "arm": arm,
                        "analyzer": "llm" if llm else arm,
                        "iteration": it,
                        "status": status,
                        "predicted_risk": risk,
                        "label": None if ti % 50 == 49 else LEVELS[int(truth[ti])],
                        "correct": None
                        if ti % 50 == 49
                        else (status == "OK" and pred == truth[ti]),
                        "timing_mode": "macro" if llm else "micro",
                        "latency_ns": max(1, int(lat if not cache else 50)),
                        "batch_ns": None if llm else int(lat) * 100,
                        "batch_size": None if llm else 100,
                        "cache_hit": cache,
                        "cost_usd": 0.001 if llm and not cache else None,
                        "explanation": f"{arm} thinks {tool} is {risk}" if llm else "",
                    }
                )
                seq += 1
    record: dict[str, Any] = {
        "run_id": run_id,
        "name": "synthetic",
        "spec": {"arms": [{"name": a} for a in arms]},
        "spec_hash": "s" * 64,
        "seed": seed,
        "labels": "synthetic-labels.csv",
        "status": "completed",
        "environment": {"host": "h", "cpu_count": 2, "packages": {"tcplab": "0.1.0"}},
    }
    if warnings is not None:
        record["warnings"] = warnings
    write_run_from_trials(run_dir, to_table(records), shard_size=shard_size, **record)
    return run_dir


@pytest.fixture
def synthetic_run(tmp_path: Path) -> SyntheticRun:
    """``synthetic_run(**kwargs)`` -> a synthetic run directory (see make_synthetic_run)."""

    def make(**kwargs: Any) -> Path:
        return make_synthetic_run(tmp_path, **kwargs)

    return make
