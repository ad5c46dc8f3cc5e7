"""The shipped alert rules pass `promtool check rules` and their `promtool test rules` unit
tests (each alert fires and clears on synthetic series); the PrometheusRule holds the same
groups. promtool comes from Debian's `prometheus` package (scripts/ci-system-deps.sh)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
ALERTS = {
    "TcplabWorkerDown",
    "TcplabQueueGrowing",
    "TcplabJobFailureRatioHigh",
    "TcplabLLMErrorRatioHigh",
    "TcplabLLMRateLimited",
    "TcplabDiskNearlyFull",
    "TcplabGPUTooHot",
    "TcplabGPUThrottling",
}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    return path


def test_promtool_check_rules() -> None:
    res = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in res.stdout


def test_promtool_unit_tests_fire_and_clear_every_alert() -> None:
    res = subprocess.run(
        [_promtool(), "test", "rules", "alerts_test.yml"],
        cwd=DEPLOY,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    for name in ALERTS:  # each alert is seen firing and seen silent
        cases = [c for t in tests for c in t["alert_rule_test"] if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in cases), name
        assert sum(not c["exp_alerts"] for c in cases) >= 2, name  # before and after


def test_prometheusrule_has_the_same_groups() -> None:
    plain = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    crd = yaml.safe_load((DEPLOY / "prometheusrule.yaml").read_text())
    assert crd["kind"] == "PrometheusRule"
    assert crd["spec"]["groups"] == plain["groups"]
    names = {r["alert"] for g in plain["groups"] for r in g["rules"]}
    assert names == ALERTS
