"""`tcplab monitor` through the real console script."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tcplab.analyzers import default_registry
from tcplab.experiment import RunDir, load_spec, prepare_run
from tcplab.experiment._rundir import owner_now

from ..conftest import Runner


def test_once_json_describes_host_and_no_runs(tcplab: Runner) -> None:
    res = tcplab("monitor", "--once", "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["schema_version"] == 1 and doc["runs"] == []
    sources = doc["host"]["sources"]
    assert sources["cpu"] == "ok" and sources["memory"] == "ok"
    assert sources["gpu"] == "ok" or sources["gpu"].startswith("unavailable: ")
    m = doc["host"]["metrics"]
    assert 0.0 <= m["cpu_busy_percent"] <= 100.0
    assert m["memory_total_bytes"] > 0 and m["load1"] >= 0
    if sources["gpu"] != "ok":  # no GPU: nothing that looks like a measurement
        assert not any(k.startswith("gpu_") for k in m)


def test_a_running_run_is_listed_live_then_dead(
    tcplab: Runner, write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_path = write_spec()
    spec = load_spec(spec_path, default_registry().names())
    run_dir, record, _plan = prepare_run(spec, spec_path.parent)
    rd = RunDir(run_dir)
    with rd.lock(record):  # this test process executes the run (a real flock)
        record.status = "running"
        record.owner = owner_now()
        rd.write_record(record)
        res = tcplab("monitor", "--once", "--json")
        assert res.returncode == 0, res.stderr
        (run,) = json.loads(res.stdout)["runs"]
        assert run["run_id"] == record.run_id and run["liveness"] == "live"
        assert run["trials_total"] == record.n_trials and run["trials_done"] == 0
        assert run["shards_total"] == record.n_shards and run["heartbeat_age_s"] is not None
    (run,) = json.loads(tcplab("monitor", "--once", "--json").stdout)["runs"]
    assert run["liveness"] == "dead"  # status running, but nobody holds the lock
    monkeypatch.setenv("COLUMNS", "200")  # wide enough for the run id
    text = tcplab("monitor", "--once")
    assert text.returncode == 0, text.stderr
    assert "Running runs" in text.stdout and record.run_id in text.stdout
    assert "dead" in text.stdout


def test_live_view_refreshes_then_exits(tcplab: Runner) -> None:
    res = tcplab("monitor", "--count", "2", "--interval", "0.1")
    assert res.returncode == 0, res.stderr
    assert "Host" in res.stdout and "CPU busy" in res.stdout and "(none)" in res.stdout
    lines = tcplab("monitor", "--json", "--count", "2", "--interval", "0.1").stdout.splitlines()
    assert len(lines) == 2 and all(json.loads(x)["schema_version"] == 1 for x in lines)


def test_bad_options_are_one_line_errors(tcplab: Runner) -> None:
    res = tcplab("monitor", "--once", "--interval", "0.01")
    assert res.returncode != 0
    assert "out of range" in res.stderr and "Traceback" not in res.stderr
    res = tcplab("monitor", "--count", "-1")
    assert res.returncode != 0 and "--count" in res.stderr
