"""Running experiments: every planned trial exactly once, crash-safe, resumable."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tcplab.analyzers import default_registry
from tcplab.experiment import (
    InlineExecutor,
    completed_shards,
    load_spec,
    make_executor,
    prepare_run,
    read_trials,
    run_experiment,
)

from ..conftest import TCPLAB, in_ci

KNOWN = default_registry().names()


def _start(spec_path: Path, tmp: Path) -> Path:
    spec = load_spec(spec_path, KNOWN)
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp / "runs")
    return run_dir


def _assert_complete(run_dir: Path) -> None:
    meta = json.loads((run_dir / "run.json").read_text())
    table = read_trials(run_dir, ["seq"])
    seqs = sorted(table["seq"].to_pylist())
    assert seqs == list(range(meta["n_trials"])), "every planned trial exactly once"
    assert meta["status"] == "completed"


def test_inline_run_records_every_trial_with_timing_and_correctness(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(write_spec(), tmp_path)
    outcome = run_experiment(run_dir, executor=InlineExecutor())
    assert outcome.status == "completed"
    _assert_complete(run_dir)
    t = read_trials(run_dir)
    tcp = t.filter(pc.equal(t["arm"], "tcp"))
    assert set(tcp["timing_mode"].to_pylist()) == {"micro"}
    assert min(tcp["batch_size"].to_pylist()) >= 1
    assert all(b >= 200_000 for b in tcp["batch_ns"].to_pylist())
    assert (
        tcp["latency_ns"].to_pylist()[0]
        == tcp["batch_ns"][0].as_py() // tcp["batch_size"][0].as_py()
    )
    fake = t.filter(pc.equal(t["arm"], "fake"))
    assert set(fake["timing_mode"].to_pylist()) == {"macro"}
    rows = {(r["tool"], r["arm"]): r for r in t.to_pylist()}
    assert rows[("tool00", "tcp")]["correct"] is False  # label CRITICAL, registry SAFE
    assert rows[("tool01", "tcp")]["correct"] is True
    meta = json.loads((run_dir / "run.json").read_text())
    assert meta["clock"]["samples"] >= 10_000 and meta["clock"]["overhead_ns"] > 0
    assert meta["arms"][0]["describe"]["mode"] == "cached"
    assert meta["environment"]["cpu_count"] >= 1 and meta["plan_hash"]


def test_local_pool_runs_every_trial_exactly_once(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(write_spec(iterations=3), tmp_path)
    outcome = run_experiment(run_dir, executor=make_executor("local", 2))
    assert outcome.status == "completed"
    _assert_complete(run_dir)
    pids = set(read_trials(run_dir, ["pid"])["pid"].to_pylist())
    assert os.getpid() not in pids and 1 <= len(pids) <= 2  # ran in the pool's processes


def test_failures_are_recorded_not_lost(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    arms = [
        {"name": "fake", "analyzer": "fake", "params": {"raise_on": ["tool03"], "fail": ["tool04"]}}
    ]
    run_dir = _start(write_spec(arms=arms), tmp_path)
    run_experiment(run_dir, executor=InlineExecutor())
    t = read_trials(run_dir).to_pylist()
    by_tool = {r["tool"]: r for r in t}
    assert by_tool["tool03"]["status"] == "ERROR" and "RuntimeError" in by_tool["tool03"]["error"]
    assert by_tool["tool04"]["status"] == "ERROR"
    assert by_tool["tool03"]["correct"] is False
    _assert_complete(run_dir)


def test_duration_limit_stops_the_run_resumably(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(write_spec(iterations=4, limits={"max_duration": 0}), tmp_path)
    outcome = run_experiment(run_dir, executor=InlineExecutor())
    assert outcome.status == "stopped"
    assert json.loads((run_dir / "run.json").read_text())["stop_reason"] == "max_duration"
    assert 0 < len(completed_shards(run_dir)) < 15


def _wait_for_shards(run_dir: Path, n: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while len(completed_shards(run_dir)) < n:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)  # polling for a condition, not waiting a fixed time


def _env() -> dict[str, str]:
    return dict(os.environ)


def _resume_to_completion(run_dir: Path) -> None:
    res = subprocess.run(
        [str(TCPLAB), "run", "--resume", str(run_dir)],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    _assert_complete(run_dir)


def _slow_spec(write_spec: Callable[..., Path], tmp_path: Path) -> Path:
    """A tcp-only run of 60 shards of >= 3 ms trials: long enough to interrupt."""
    registry = {"registry": str(tmp_path / "tools.tcpdb")}
    return write_spec(
        iterations=40,
        shard_size=20,
        micro_min_batch_ns=3_000_000,
        arms=[{"name": "tcp", "analyzer": "tcp", "params": registry}],
    )


def test_sigkill_at_random_points_then_resume_gives_every_trial_once(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(_slow_spec(write_spec, tmp_path), tmp_path)
    total = json.loads((run_dir / "run.json").read_text())["n_shards"]
    rng = random.Random(1129)
    target = 0
    for _kill in range(2):
        target = min(total - 2, len(completed_shards(run_dir)) + rng.randint(1, 8))
        proc = subprocess.Popen(
            [str(TCPLAB), "run", "--resume", str(run_dir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        _wait_for_shards(run_dir, target, proc)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        # a kill mid-write may leave a temp file, but every visible shard is a whole file
        for shard in (run_dir / "trials").glob("shard-*.parquet"):
            assert pq.read_table(shard).num_rows > 0
    done_before = len(completed_shards(run_dir))
    assert target <= done_before < total
    _resume_to_completion(run_dir)
    meta = json.loads((run_dir / "run.json").read_text())
    assert len(meta["attempts"]) == 3
    assert meta["attempts"][-1]["pending_shards"] == total - done_before


def test_ctrl_c_cancels_cleanly_and_leaves_the_run_resumable(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    run_dir = _start(_slow_spec(write_spec, tmp_path), tmp_path)
    proc = subprocess.Popen(
        [str(TCPLAB), "run", "--resume", str(run_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    _wait_for_shards(run_dir, 2, proc)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"resume with: tcplab run --resume" in err
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"
    _resume_to_completion(run_dir)


def test_ray_executor_runs_every_trial_exactly_once(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    try:
        import ray  # noqa: F401
    except ImportError:
        if in_ci():
            pytest.fail("ray is not installed; CI needs it (pip install 'tcplab[ray]')")
        pytest.skip("ray not installed")
    run_dir = _start(write_spec(iterations=2), tmp_path)
    outcome = run_experiment(run_dir, executor=make_executor("ray", 2))
    assert outcome.status == "completed"
    _assert_complete(run_dir)


def test_run_finishes_when_the_database_is_down_and_sync_loads_it_later(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = write_spec()
    down = "postgresql+psycopg://nobody@127.0.0.1:9/none"  # nothing listens on port 9
    res = subprocess.run(
        [str(TCPLAB), "run", str(spec), "--db", down, "--out", str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "result store not used" in res.stderr
    run_dir = next((tmp_path / "runs").iterdir())
    _assert_complete(run_dir)
    db = f"sqlite:///{tmp_path / 'later.sqlite'}"
    for _ in range(2):  # safe to run twice
        res = subprocess.run(
            [str(TCPLAB), "runs", "sync", str(run_dir), "--db", db],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=300,
        )
        assert res.returncode == 0, res.stderr
    import sqlite3

    with sqlite3.connect(tmp_path / "later.sqlite") as conn:
        (n,) = conn.execute("select count(*) from trials").fetchone()
    assert n == json.loads((run_dir / "run.json").read_text())["n_trials"]
