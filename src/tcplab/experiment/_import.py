"""Writing a valid run directory from an existing table of trials (imports, fixtures, benches).

The result is an ordinary run: a plan whose shards hold exactly the given trials, a typed
record with every shard's rows and SHA-256, so every reader (report, store, sql) accepts it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from tcplab.experiment._plan import Plan
from tcplab.experiment._record import RunRecord
from tcplab.experiment._rundir import RunDir, shard_info
from tcplab.experiment.trials import write_shard

__all__ = ["write_run_from_trials"]


def _index(values: list[Any]) -> tuple[tuple[str, ...], list[int]]:
    names: dict[str, int] = {}
    idx = [names.setdefault(str(v), len(names)) for v in values]
    return tuple(names), idx


def write_run_from_trials(
    run_dir: Path, trials: pa.Table, *, shard_size: int, **record: Any
) -> RunDir:
    """Write ``run_dir`` holding ``trials`` (rows in ``seq`` order 0..n-1) in shards of
    ``shard_size``; ``record`` gives RunRecord fields (``run_id`` and ``name`` at least)."""
    n = trials.num_rows
    if trials["seq"].to_pylist() != list(range(n)):
        raise ValueError("trials must be in seq order 0..n-1")
    tools, tool_idx = _index(trials["tool"].to_pylist())
    arms, arm_idx = _index(trials["arm"].to_pylist())
    iteration = [int(x or 0) for x in trials["iteration"].to_pylist()]
    plan = Plan(
        tools,
        arms,
        np.asarray(tool_idx, np.int32),
        np.asarray(arm_idx, np.int16),
        np.asarray(iteration, np.int32),
        shard_size,
        int(record.get("seed", 0)),
        "sequential",
    )
    rd = RunDir(run_dir)
    rd.path.mkdir(parents=True, exist_ok=True)
    fields: dict[str, Any] = {
        "spec": {},
        "spec_hash": "",
        "seed": 0,
        "status": "completed",
        "n_tools": len(tools),
        "trials_by_arm": plan.trials_per_arm(),
    }
    fields.update(record)
    fields.pop("schema_version", None)  # written as the current version
    fields.update(plan_hash=plan.write(rd.plan_path), n_trials=n, n_shards=plan.n_shards)
    rec = RunRecord.model_validate(fields)
    for s in range(plan.n_shards):
        r = plan.shard_range(s)
        part = trials.slice(r.start, len(r))
        rec.shards[str(s)] = shard_info(write_shard(rd.path, s, part), part.num_rows)
    rd.write_record(rec)
    return rd
