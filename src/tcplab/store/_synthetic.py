"""SYNTHETIC trial rows and run documents for storage tests and storage benchmarks.

They are schema-valid but invented (cycling tools and arms, random latencies): they exercise
and time the stores, and must never be reported as experimental results.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from tcplab.experiment.trials import TRIAL_SCHEMA

__all__ = ["ARMS", "TOOLS", "run_meta", "trial_table"]

ARMS = ("tcp", "rules", "llm")
TOOLS = ("rm", "ls", "curl", "dd")
LATENCY = {"tcp": 1_000, "rules": 50_000, "llm": 900_000}


def trial_table(run_id: str, shard: int, n: int, *, seed: int = 0, start_seq: int = 0) -> pa.Table:
    """``n`` trials of one shard, cycling through tools and arms; deterministic for ``seed``."""
    rng = np.random.default_rng(seed + shard)
    seq = np.arange(start_seq, start_seq + n, dtype=np.int64)
    arms = [ARMS[i % len(ARMS)] for i in range(n)]
    tools = [TOOLS[(i // len(ARMS)) % len(TOOLS)] for i in range(n)]
    base = np.array([LATENCY[a] for a in arms], dtype=np.int64)
    latency = base + rng.integers(0, 100, n)
    correct = rng.random(n) < 0.8
    caps = [["FILE_WRITE", "NETWORK"][: i % 3] for i in range(n)]
    cols: dict[str, Any] = {
        "schema_version": pa.array(np.ones(n, dtype=np.int16)),
        "descriptor_format_version": pa.array(np.full(n, 2, dtype=np.int16)),
        "run_id": pa.array([run_id] * n),
        "shard": pa.array(np.full(n, shard, dtype=np.int32)),
        "seq": pa.array(seq),
        "tool": pa.array(tools),
        "arm": pa.array(arms),
        "analyzer": pa.array(arms),
        "iteration": pa.array((seq % 7).astype(np.int32)),
        "status": pa.array(["OK" if i % 50 else "ERROR" for i in range(n)]),
        "predicted_risk": pa.array(["HIGH_RISK"] * n),
        "predicted_capabilities": pa.array(caps, pa.list_(pa.string())),
        "decision": pa.array(["approve"] * n),
        "label": pa.array(["HIGH_RISK"] * n),
        "label_capabilities": pa.array(caps, pa.list_(pa.string())),
        "correct": pa.array(correct),
        "timing_mode": pa.array(["warm"] * n),
        "latency_ns": pa.array(latency),
        "clock_overhead_ns": pa.array(rng.random(n) * 30),
        "cost_usd": pa.array(np.zeros(n)),
        "attempts": pa.array(np.ones(n, dtype=np.int32)),
        "explanation": pa.array([f'said "{i}", ok' if i % 97 == 0 else "" for i in range(n)]),
        "host": pa.array(["host-1"] * n),
        "pid": pa.array(np.full(n, 4242, dtype=np.int32)),
        "started_at_ns": pa.array(seq * 1000),
        "finished_at_ns": pa.array(seq * 1000 + latency),
    }
    arrays = [cols[f.name] if f.name in cols else pa.nulls(n, f.type) for f in TRIAL_SCHEMA]
    return pa.Table.from_arrays(
        [a.cast(f.type) for a, f in zip(arrays, TRIAL_SCHEMA, strict=True)], schema=TRIAL_SCHEMA
    )


def run_meta(run_id: str, **over: Any) -> dict[str, Any]:
    """A run.json document."""
    meta: dict[str, Any] = {
        "schema_version": 1,
        "run_id": run_id,
        "name": f"run {run_id}",
        "type": "experiment",
        "description": "store test",
        "tags": ["store", "test"],
        "spec": {"arms": list(ARMS), "iterations": 3},
        "spec_hash": "s" * 16,
        "plan_hash": "p" * 16,
        "seed": 7,
        "status": "completed",
        "created_by": "tester",
        "started_at": "2026-11-20T10:00:00+00:00",
        "finished_at": "2026-11-20T10:05:00+00:00",
        "n_trials": 0,
        "n_shards": 0,
        "environment": {"python": "3.11"},
        "clock": {"resolution_ns": 1},
        "arms": [{"name": a, "analyzer": a, "timing": "warm", "describe": {}} for a in ARMS],
    }
    meta.update(over)
    return meta
