"""`runs push` carries the run's resource samples (metrics/) and `runs fetch` brings them back,
checked against a local artifact store (the same code path as S3, tests/store covers S3)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tcplab.analyzers import default_registry
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, run_experiment
from tcplab.monitor import read_metrics
from tcplab.store import fetch_run, push_run


def test_push_and_fetch_carry_the_metrics(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    spec_path = write_spec(iterations=5)
    spec = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp_path / "runs")
    outcome = run_experiment(run_dir, executor=InlineExecutor(), sample_interval=0.1)
    assert outcome.status == "completed"
    local = sorted(p.name for p in (run_dir / "metrics").iterdir())
    assert any(n.endswith(".parquet") for n in local), local
    url = push_run(run_dir, str(tmp_path / "store"))
    manifest = json.loads((Path(url) / "manifest.json").read_text())
    pushed = sorted(e["key"] for e in manifest["objects"] if e["key"].startswith("metrics/"))
    assert pushed == [f"metrics/{n}" for n in local]
    back = fetch_run(url, tmp_path / "back")
    assert sorted(p.name for p in (back / "metrics").iterdir()) == local
    assert read_metrics(back / "metrics").num_rows == read_metrics(run_dir / "metrics").num_rows
