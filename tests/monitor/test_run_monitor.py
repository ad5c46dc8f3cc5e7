"""The sampler beside a real run: Parquet in the run directory, the SQL store, the record."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tcplab.analyzers import default_registry
from tcplab.errors import UsageError
from tcplab.experiment import (
    InlineExecutor,
    RunDir,
    load_spec,
    make_executor,
    prepare_run,
    read_trials,
    run_experiment,
)
from tcplab.monitor import read_metrics, trial_window

KNOWN = default_registry().names()


def _start(spec_path: Path, tmp: Path) -> Path:
    spec = load_spec(spec_path, KNOWN)
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp / "runs")
    return run_dir


def test_local_run_samples_driver_and_workers_into_parquet_and_sqlite(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(write_spec(iterations=20), tmp_path)
    db = tmp_path / "store.sqlite"
    outcome = run_experiment(
        run_dir, executor=make_executor("local", 2), db=f"sqlite:///{db}", sample_interval=0.1
    )
    assert outcome.status == "completed"
    record = RunDir(run_dir).read_record()
    res = record.resources
    assert res["interval_s"] == 0.1 and res["samples"] >= 2
    assert res["sources"]["cpu"] == "ok" and res["sources"]["process"] == "ok"
    assert res["sources"]["gpu"] == "ok" or res["sources"]["gpu"].startswith("unavailable: ")
    assert res["sink_errors"] == []
    table = read_metrics(run_dir / "metrics")
    window = trial_window(run_dir)  # the trials ran while the sampler was sampling
    assert window is not None
    ts = table["ts_ns"].to_pylist()
    assert min(ts) <= window[0] <= window[1] <= max(ts)
    procs = table.filter(pc.equal(table["name"], "process_rss_bytes"))
    labels = [json.loads(x) for x in procs["labels"].to_pylist()]
    trial_pids = {str(p) for p in read_trials(run_dir, ["pid"])["pid"].to_pylist()}
    worker_pids = {lb["pid"] for lb in labels if lb["role"] == "worker"}
    assert trial_pids & worker_pids  # the processes that ran trials were sampled
    assert any(lb["role"] == "driver" for lb in labels)
    roles = {p["role"] for p in res["processes"]}
    assert roles == {"driver", "worker"}
    for info in record.shards.values():  # each shard's own resource figures, from its worker
        assert info.resources is not None
        assert info.resources["cpu_seconds"] >= 0 and info.resources["rss_bytes"] > 0
        assert info.resources["maxrss_bytes"] >= info.resources["rss_bytes"] * 0.5
    with sqlite3.connect(db) as conn:
        (n,) = conn.execute(
            "select count(*) from run_metrics where run_id = ?", (record.run_id,)
        ).fetchone()
    assert n == table.num_rows


def test_sampling_off_and_bad_intervals(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = _start(write_spec(), tmp_path)
    with pytest.raises(UsageError, match="out of range"):
        run_experiment(run_dir, executor=InlineExecutor(), use_store=False, sample_interval=0.01)
    monkeypatch.setenv("TCPLAB_SAMPLE_INTERVAL", "0")
    outcome = run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
    assert outcome.status == "completed"
    assert not (run_dir / "metrics").exists()
    assert RunDir(run_dir).read_record().resources == {}
    monkeypatch.setenv("TCPLAB_SAMPLE_INTERVAL", "fast")
    with pytest.raises(UsageError, match="TCPLAB_SAMPLE_INTERVAL"):
        run_experiment(run_dir, executor=InlineExecutor(), use_store=False)
