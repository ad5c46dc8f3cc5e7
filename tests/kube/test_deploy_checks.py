"""``tcplab deploy`` where no cluster answers (the real kubectl, a refused connection): one
line per failed check, one error line, no traceback; the check records themselves."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tcplab.kube import CheckResult, Kubectl, check_context

from ._render import MANIFESTS

TCPLAB = str(Path(sys.executable).with_name("tcplab"))


@pytest.fixture
def dead_kubeconfig(tmp_path: Path) -> Path:
    """A kubeconfig whose server is a loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "kubeconfig"
    path.write_text(
        f"""apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "https://127.0.0.1:{port}", insecure-skip-tls-verify: true}}
users: [{{name: u, user: {{token: t}}}}]
contexts: [{{name: dead, context: {{cluster: c, user: u}}}}]
current-context: dead
"""
    )
    return path


def test_an_unreachable_context_is_one_line(dead_kubeconfig: Path) -> None:
    proc = subprocess.run(
        [TCPLAB, "deploy", "plan", "--overlay", "dev", "--kubeconfig", str(dead_kubeconfig),
         "--context", "dead", "--manifests", str(MANIFESTS)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("FAIL context: dead is not reachable: ")
    assert "was refused" in lines[0]
    assert lines[1] == "error: a prerequisite check failed (see above)"


def test_the_check_record(dead_kubeconfig: Path) -> None:
    result = check_context(Kubectl(str(dead_kubeconfig)))
    assert isinstance(result, CheckResult) and not result.ok and result.severity == "error"
    again = CheckResult.model_validate(json.loads(result.model_dump_json()))
    assert again == result and again.schema_version == 1
    assert result.line().startswith("FAIL context: the current context is not reachable")


def test_missing_manifests_are_one_line(tmp_path: Path) -> None:
    proc = subprocess.run(
        [TCPLAB, "deploy", "apply", "--overlay", "dev", "--manifests", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"error: no Kubernetes manifests at {tmp_path}")
    assert len(proc.stderr.strip().splitlines()) == 1
