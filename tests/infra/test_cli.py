"""``tcplab deploy terraform render|validate`` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..conftest import Runner
from .conftest import FULL, THREE, raw


def test_render_writes_modules_and_reports(tcplab: Runner, tmp_path: Path) -> None:
    out = tmp_path / "tf"
    proc = tcplab(
        "deploy", "terraform", "render", "--config", str(THREE), "--out", str(out), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert summary["modules"] == ["us-east-1", "europe-west1", "japaneast", "global"]
    assert summary["offline_checks"] == "passed"
    assert (out / "global" / "main.tf.json").is_file()
    again = tcplab("deploy", "terraform", "render", "--config", str(FULL), "--out", str(out))
    assert again.returncode == 0, again.stderr  # re-rendering into its own output is fine
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine", "utf-8")
    refused = tcplab(
        "deploy", "terraform", "render", "--config", str(THREE), "--out", str(tmp_path / "other")
    )
    assert refused.returncode == 2 and "pass --force" in refused.stderr


def test_validate_reports_every_problem_without_traceback(tcplab: Runner, tmp_path: Path) -> None:
    ok = tcplab("deploy", "terraform", "validate", "--config", str(FULL))
    assert ok.returncode == 0 and ok.stdout.strip().endswith("ok"), ok.stderr
    doc = raw()
    doc["regions"][1]["node_groups"][0]["instance_type"] = "m9z.huge"
    doc["regions"][1]["network"]["cidr"] = "10.10.0.0/16"
    bad = tmp_path / "regions.yaml"
    bad.write_text(yaml.safe_dump(doc), "utf-8")
    proc = tcplab("deploy", "terraform", "validate", "--config", str(bad))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert lines[0].startswith(f"error: {bad}: 2 problem(s)")
    assert (
        "  - regions[1].node_groups[0].instance_type: 'm9z.huge' is not in the aws catalogue"
        in lines
    )
