"""Fake but schema-valid runs for store tests (storage, not experiments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from tcplab.experiment.trials import write_shard
from tcplab.store._synthetic import ARMS, TOOLS, run_meta, trial_table

__all__ = ["ARMS", "TOOLS", "make_run", "run_meta", "trial_table"]


def make_run(
    home: Path, run_id: str = "run-0001", *, shards: int = 2, per_shard: int = 120, **over: Any
) -> Path:
    """Write ``TCPLAB_HOME/runs/RUN_ID`` with run.json, plan.parquet, shards and a report."""
    run_dir = home / "runs" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    meta = run_meta(run_id, n_trials=shards * per_shard, n_shards=shards, **over)
    (run_dir / "run.json").write_text(json.dumps(meta, indent=2))
    pa_plan = pa.table({"seq": pa.array(range(shards * per_shard), pa.int64())})
    import pyarrow.parquet as pq

    pq.write_table(pa_plan, run_dir / "plan.parquet")
    for shard in range(shards):
        write_shard(
            run_dir, shard, trial_table(run_id, shard, per_shard, start_seq=shard * per_shard)
        )
    (run_dir / "report").mkdir(exist_ok=True)
    (run_dir / "report" / "summary.md").write_text("# summary\n")
    return run_dir
