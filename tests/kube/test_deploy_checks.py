"""``tcplab deploy`` where no cluster answers (the real kubectl, a refused connection): one
line per failed check, one error line, no traceback; the check records themselves."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tcplab.kube import (
    CheckResult,
    DeployError,
    Kubectl,
    Rendered,
    check_context,
    check_storage_classes,
    manifests_root,
)
from tcplab.kube._checks import PLACEHOLDER

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
    assert lines[0] == "error: a prerequisite check failed: context"
    assert lines[1].startswith("  - FAIL context: dead is not reachable: ")
    assert "was refused" in lines[1]


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


class _FakeKubectl(Kubectl):
    """Answers ``get storageclass`` from a dict of live classes (no cluster)."""

    def __init__(self, live: dict[str, dict[str, object]]) -> None:
        super().__init__(binary="kubectl")
        self.live = live

    def run(self, *args: str, **_: object) -> subprocess.CompletedProcess[str]:
        assert args[:2] == ("get", "storageclass"), args
        names = "\n".join(f"storageclass.storage.k8s.io/{n}" for n in self.live)
        return subprocess.CompletedProcess(list(args), 0, names, "")

    def json(self, *args: str, timeout: float = 30) -> object:
        assert args[:2] == ("get", "storageclass"), args
        return self.live[args[2]]


def _rendered_with_class(provisioner: str, **params: str) -> Rendered:
    pvc = {"kind": "PersistentVolumeClaim", "metadata": {"name": "tcplab-runs"},
           "spec": {"storageClassName": "tcplab-rwx"}}  # fmt: skip
    sc = {"kind": "StorageClass", "metadata": {"name": "tcplab-rwx"},
          "provisioner": provisioner, "parameters": params}  # fmt: skip
    return Rendered("region", "", [pvc, sc])


def test_a_class_the_overlay_creates_need_not_exist_yet() -> None:
    r = _rendered_with_class("file.csi.azure.com", skuName="Standard_ZRS")
    result = check_storage_classes(_FakeKubectl({}), r)
    assert result.ok, result
    assert result.message == "tcplab-rwx is created by the overlay (file.csi.azure.com)"
    same = {"provisioner": "file.csi.azure.com", "parameters": {"skuName": "Standard_ZRS"}}
    assert check_storage_classes(_FakeKubectl({"tcplab-rwx": same}), r).ok


def test_the_overlays_placeholder_and_an_immutable_difference_fail() -> None:
    r = _rendered_with_class("efs.csi.aws.com", fileSystemId=f"fs-{PLACEHOLDER}")
    result = check_storage_classes(_FakeKubectl({}), r)
    assert not result.ok and "tcplab-rwx fileSystemId=fs-REPLACE-ME" in result.message
    r = _rendered_with_class("efs.csi.aws.com", fileSystemId="fs-0123456789abcdef0")
    other = {"provisioner": "efs.csi.aws.com", "parameters": {"fileSystemId": "fs-1"}}
    result = check_storage_classes(_FakeKubectl({"tcplab-rwx": other}), r)
    assert not result.ok and "immutable" in result.message


def test_the_shipped_us_east_1_overlay_is_refused_until_its_file_system_is_set() -> None:
    from ._render import rendered

    result = check_storage_classes(_FakeKubectl({}), rendered("us-east-1"))
    assert not result.ok and "fileSystemId=fs-REPLACE-ME" in result.message
    assert check_storage_classes(_FakeKubectl({}), rendered("westeurope")).ok


def test_a_zipped_install_names_manifests_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's ``as_file`` cannot make a folder of a zip's directory: one clear line."""
    import zipfile

    from tcplab.kube import _manifests

    archive = tmp_path / "tcplab.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr(
            "tcplab/data/kubernetes/overlays/dev/kustomization.yaml", "kind: Kustomization\n"
        )
    zipped = zipfile.Path(archive, "tcplab/")
    monkeypatch.setattr(_manifests.resources, "files", lambda _: zipped)
    monkeypatch.delenv("TCPLAB_MANIFESTS", raising=False)
    _manifests._packaged.cache_clear()
    try:
        with pytest.raises(DeployError, match=r"not a folder on disk .* pass --manifests DIR"):
            manifests_root()
    finally:
        _manifests._packaged.cache_clear()
