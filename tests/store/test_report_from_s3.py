"""End to end: a real engine run pushed to SeaweedFS, then `tcplab report s3://...`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tcplab.descriptor import encode
from tcplab.experiment import InlineExecutor, prepare_run, run_experiment, validate_spec
from tcplab.registry import write_registry

from ..conftest import TCPLAB


def test_report_reads_a_run_back_from_s3(s3_env: str, isolated_home: Path, tmp_path: Path) -> None:
    tools = ["alpha", "beta", "gamma", "delta"]
    reg = tmp_path / "r.tcpdb"
    write_registry(reg, [(t, encode(t, "SAFE")) for t in tools])
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "command,risk_level,capabilities,rationale,labeler\n"
        + "".join(f"{t},SAFE,,read-only,test\n" for t in tools)
    )
    spec = validate_spec(
        {
            "spec_version": 1,
            "name": "s3 report",
            "labels": str(labels),
            "tools": {"kind": "labeled"},
            "iterations": 2,
            "micro_min_batch_ns": 100_000,
            "arms": [
                {"name": "tcp", "analyzer": "tcp", "params": {"registry": str(reg)}},
                {"name": "fake", "analyzer": "fake"},
            ],
        },
        ["tcp"],
    )
    run_dir = Path(prepare_run(spec, tmp_path)[0])
    run_id = run_dir.name
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    res = subprocess.run(
        [str(TCPLAB), "runs", "push", run_id, "--to", s3_env],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    url = f"{s3_env}/runs/{run_id}"
    shutil.rmtree(run_dir)  # the report must come from the object store, not the local copy
    dest = tmp_path / "fetched"
    res = subprocess.run(
        [str(TCPLAB), "report", url, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=dest.parent,
    )
    assert res.returncode == 0, res.stderr
    fetched = isolated_home / "runs" / run_id
    summary = json.loads((fetched / "report" / "summary.json").read_text())
    assert summary["run"]["run_id"] == run_id
    assert summary["arms"]["tcp"]["accuracy_exact"]["estimate"] == 1.0
    assert summary["arms"]["tcp"]["n_trials"] == 8
    # reporting the same pushed run again reuses the fetched copy (its report/ is derived)
    res = subprocess.run(
        [str(TCPLAB), "report", url, "--json"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr
    assert [p.name for p in fetched.parent.iterdir()] == [run_id]  # nothing moved aside
