"""``tcplab deploy`` (the console script) against the REAL control plane of
``tests/kube/conftest.py``: prerequisite checks, plan (server-side diff), server-side apply,
rollouts made ready by the fixture kubelet of ``_kubelet_deploy.py`` (no kubelet runs: pods
are marked Running/Ready, nothing is executed), verify, destroy; and a server-side dry-run of
every overlay. The smoke test's HTTP part cannot reach a pod here (no pod runs): it is run
against a real ``tcplab serve`` + ``tcplab worker`` on this machine through ``--url``."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.kube import FIELD_MANAGER, Kubectl, shipped_crds

from ..service.conftest import Stack, stack  # noqa: F401  (fixture)
from ._kubelet_deploy import PodsReady
from ._render import MANIFESTS, OVERLAYS, rendered
from .conftest import ControlPlane

TCPLAB = str(Path(sys.executable).with_name("tcplab"))
NS = "tcplab-dev"
STORAGE_CLASS = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: standard}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
"""


def deploy(cp: ControlPlane, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``tcplab deploy ARGS --overlay dev`` with the test control plane's kubeconfig."""
    argv = [TCPLAB, "deploy", *args, "--overlay", "dev", "--kubeconfig", str(cp.kubeconfig),
            "--manifests", str(MANIFESTS)]  # fmt: skip
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def cluster(control_plane: ControlPlane) -> Iterator[ControlPlane]:
    """The control plane, with the fixture kubelet making tcplab-dev's pods ready."""
    ready = PodsReady(control_plane, NS).start()
    try:
        yield control_plane
    finally:
        try:
            gone = deploy(control_plane, "destroy", "--yes", "--delete-data", timeout=180)
        finally:
            ready.stop()
        assert gone.returncode == 0, gone.stderr
        assert not ready.errors, ready.errors


def test_missing_storage_class_is_one_clear_line(cluster: ControlPlane) -> None:
    cluster.kubectl("delete", "storageclass", "standard", "--ignore-not-found")
    proc = deploy(cluster, "plan", "--install-crds")
    assert proc.returncode == 1, proc.stderr
    # the error first, then every check as a problem line
    assert proc.stderr.startswith("error: a prerequisite check failed: storage-class\n")
    assert "\n  - ok   context: the current context answers (v1.37" in proc.stderr
    assert "\n  - ok   server-version: v1.37" in proc.stderr
    assert "\n  - FAIL storage-class: no storage class standard" in proc.stderr
    # no adapter here (another test may have left one registered: then ok or not Available)
    assert re.search(r"^  - (warn|ok  ) metrics-adapter: ", proc.stderr, re.M), proc.stderr
    assert "Traceback" not in proc.stderr


def test_plan_apply_plan_verify_destroy(cluster: ControlPlane) -> None:
    assert cluster.kubectl("apply", "-f", "-", input=STORAGE_CLASS).returncode == 0
    plan = deploy(cluster, "plan", "--install-crds")
    assert plan.returncode == 2, plan.stderr
    assert f"namespace {NS} does not exist" in plan.stdout
    assert "+ Deployment/tcplab-worker" in plan.stdout
    assert "ok   crds:" in plan.stderr

    applied = deploy(cluster, "apply", "--timeout", "120")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "deployment.apps/tcplab-api serverside-applied" in applied.stdout
    assert "deployment/tcplab-worker rolled out in" in applied.stdout
    assert "tcplab-api: " in applied.stderr  # rollout progress lines
    managers = cluster.kubectl("get", "deployment", "tcplab-api", "-n", NS, "-o",
                               "jsonpath={.metadata.managedFields[*].manager}").stdout  # fmt: skip
    assert "tcplab-deploy" in managers.split()

    same = deploy(cluster, "plan")
    assert same.returncode == 0, same.stdout + same.stderr
    assert "overlay dev: no changes" in same.stdout

    cluster.kubectl("scale", "deployment", "tcplab-api", "-n", NS, "--replicas=3")
    drift = deploy(cluster, "plan")
    assert drift.returncode == 2, drift.stderr
    assert "-  replicas: 3" in drift.stdout and "+  replicas: 1" in drift.stdout

    verify = deploy(cluster, "verify", "--json")
    assert verify.returncode == 1
    assert '"name": "deployments", "ok": true' in verify.stdout
    assert '"name": "health", "ok": false' in verify.stdout  # no pod answers here
    assert "through the API server's proxy: " in verify.stdout
    assert '"name": "experiment", "ok": false' in verify.stdout  # no --url / --token

    gone = deploy(cluster, "destroy", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert 'deployment.apps "tcplab-api" deleted' in gone.stdout
    left = cluster.kubectl("get", "pvc", "-n", NS, "-o", "name").stdout
    assert left.split() == ["persistentvolumeclaim/tcplab-runs"]
    assert cluster.kubectl("get", "namespace", NS).returncode == 0
    assert "deployment" not in cluster.kubectl("get", "deploy", "-n", NS, "-o", "name").stdout


def test_verify_submits_a_tiny_experiment_through_the_api(
    cluster: ControlPlane,
    stack: Stack,  # noqa: F811
) -> None:
    assert cluster.kubectl("apply", "-f", "-", input=STORAGE_CLASS).returncode == 0
    url = stack.serve()
    stack.worker()
    token = stack.token("smoke", "submitter")
    applied = deploy(cluster, "apply", "--install-crds", "--timeout", "120", "--verify",
                     "--url", url, "--token", token)  # fmt: skip
    assert applied.returncode == 0, applied.stderr
    assert "deployment/tcplab-api rolled out in" in applied.stdout
    proc = deploy(cluster, "verify", "--url", url, "--token", token, "--timeout", "120")
    assert proc.returncode == 0, proc.stderr
    for out in (applied.stderr, proc.stderr):
        assert "ok   deployments: every Deployment is available" in out
        assert f"ok   health: {url}: HTTP 200" in out
        assert "ok   experiment: job " in out and " succeeded" in out


def test_destroy_asks_for_confirmation(cluster: ControlPlane) -> None:
    proc = deploy(cluster, "destroy")
    assert proc.returncode == 2  # a usage error
    assert proc.stderr.strip() == (
        "error: destroy deletes overlay dev from namespace tcplab-dev: pass --yes to confirm"
    )


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_passes_a_server_side_dry_run(cluster: ControlPlane, overlay: str) -> None:
    """``kubectl apply --dry-run=server`` (kubectl 1.37 from the venv, apply's own flags)."""
    import yaml

    kubectl = Kubectl(str(cluster.kubeconfig))
    r = rendered(overlay)
    shipped = shipped_crds(MANIFESTS)
    crds = [shipped[name] for name in r.crds()]
    kubectl.run("apply", "--server-side", f"--field-manager={FIELD_MANAGER}", "-f", "-",
                input=yaml.safe_dump_all(crds))  # fmt: skip
    kubectl.run("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")
    kubectl.run("apply", "-f", "-", input=yaml.safe_dump(r.of_kind("Namespace")[0]))
    proc = kubectl.run(
        "apply", "--dry-run=server", "--server-side", f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts", "-f", "-", input=r.text, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("(server dry run)") == len(r.objects)
