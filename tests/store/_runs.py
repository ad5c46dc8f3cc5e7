"""Fake but schema-valid runs for store tests (storage, not experiments)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from tcplab.store._synthetic import ARMS, TOOLS, run_meta, trial_table

__all__ = ["ARMS", "TOOLS", "make_run", "real_run", "resume", "run_meta", "trial_table"]


def make_run(
    home: Path, run_id: str = "run-0001", *, shards: int = 2, per_shard: int = 120, **over: Any
) -> Path:
    """Write ``TCPLAB_HOME/runs/RUN_ID``: a valid run (plan, record with shard checksums,
    shards) holding synthetic trials, and a report."""
    from tcplab.experiment import write_run_from_trials

    run_dir = home / "runs" / run_id
    table = pa.concat_tables(
        [trial_table(run_id, s, per_shard, start_seq=s * per_shard) for s in range(shards)]
    )
    meta = run_meta(run_id, **over)
    write_run_from_trials(run_dir, table, shard_size=per_shard, **meta)
    (run_dir / "report").mkdir(exist_ok=True)
    (run_dir / "report" / "summary.md").write_text("# summary\n")
    return run_dir


def real_run(
    base: Path, out: Path, *, tools: int = 12, shard_size: int = 4, cancel_after: int | None = None
) -> Path:
    """A real run made by the experiment engine (inline executor, one ``fake`` arm).

    With ``cancel_after=N`` the run is interrupted (Ctrl-C, as the CLI sees it) after N
    shards and left ``cancelled`` and resumable; ``resume(run_dir)`` finishes it.
    """
    import yaml

    from tcplab.analyzers import default_registry
    from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment

    base.mkdir(parents=True, exist_ok=True)
    labels = base / "labels.csv"
    rows = ["command,risk_level,capabilities,rationale,labeler"]
    rows += [f"tool{i:02d},SAFE,,synthetic label for store tests,test" for i in range(tools)]
    labels.write_text("\n".join(rows) + "\n")
    spec = {
        "spec_version": 1,
        "name": "store test",
        "labels": str(labels),
        "tools": {"kind": "labeled"},
        "arms": [{"name": "fake", "analyzer": "fake", "params": {"level": "SAFE"}}],
        "iterations": 2,
        "warmup": 0,
        "seed": 7,
        "shard_size": shard_size,
        "executor": {"kind": "inline", "workers": 1},
    }
    spec_path = base / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    parsed = load_spec(spec_path, default_registry().names())
    run_dir = Path(prepare_run(parsed, base, out)[0])
    done = 0

    def interrupt(_progress: Any, _result: Any) -> None:
        nonlocal done
        done += 1
        if cancel_after is not None and done >= cancel_after:
            raise KeyboardInterrupt

    try:
        run_experiment(run_dir, executor=InlineExecutor(), on_shard=interrupt)
    except KeyboardInterrupt:
        assert cancel_after is not None
    return run_dir


def resume(run_dir: Path) -> None:
    """Finish a run through the real console script (``tcplab run --resume``)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [str(Path(sys.executable).with_name("tcplab")), "run", "--resume", str(run_dir), "--no-db"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((run_dir / "run.json").read_text())["status"] == "completed"
