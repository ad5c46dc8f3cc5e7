"""The test control plane itself (scripts/k8s-testenv.sh): the version it was built as, RBAC
on, the controllers running, binaries cached outside the repo, stop by PID."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .conftest import ROOT, SCRIPT, ControlPlane, wait_until


def test_server_version_and_rbac(control_plane: ControlPlane) -> None:
    done = control_plane.kubectl("version", "-o", "json")
    assert done.returncode == 0, done.stderr
    server = json.loads(done.stdout)["serverVersion"]
    assert server["gitVersion"] == "v1.37.2" and server["minor"] == "37"
    # a token the server does not know is refused; RBAC is the authorizer
    bad = subprocess.run(
        ["curl", "-sk", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer x",
         f"{control_plane.server}/api/v1/namespaces"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert bad.stdout == "401"
    modes = (control_plane.run_dir / "kube-apiserver.log").read_text()
    assert "RBAC" in modes or control_plane.kubectl("auth", "can-i", "--list").returncode == 0


def test_controllers_run_and_binaries_are_cached_outside_the_repo(
    control_plane: ControlPlane,
) -> None:
    for name in ("etcd", "kube-apiserver", "kube-controller-manager"):
        pid = int((control_plane.run_dir / f"{name}.pid").read_text())
        assert Path(f"/proc/{pid}").exists(), name
    # the service-account controller creates each namespace's `default` account
    wait_until(
        "the default ServiceAccount",
        lambda: control_plane.kubectl("get", "sa", "default", "-n", "default").returncode == 0,
        timeout=60,
    )
    bindir = subprocess.run(
        ["bash", str(SCRIPT), "bindir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert "v1.37.2" in bindir and not Path(bindir).resolve().is_relative_to(ROOT)
    assert os.access(Path(bindir) / "kube-apiserver", os.X_OK)


def test_stop_by_pid(control_plane: ControlPlane, tmp_path: Path) -> None:
    """A second control plane starts and stops cleanly (nothing left running)."""
    run = tmp_path / "cp2"
    started = subprocess.run(
        ["bash", str(SCRIPT), "start", str(run)], capture_output=True, text=True, timeout=180
    )
    pids = [int((run / f"{n}.pid").read_text()) for n in ("etcd", "kube-apiserver")]
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        assert "server=https://127.0.0.1:" in started.stdout
    finally:
        subprocess.run(["bash", str(SCRIPT), "stop", str(run)], check=True, timeout=60)
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid)


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
