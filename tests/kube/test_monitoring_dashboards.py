"""The Grafana dashboards and the alert rules in the Kubernetes manifests: every overlay, as
kustomize renders it for ``tcplab deploy`` (the real kubectl), carries the dashboards of
``deploy/grafana/`` byte for byte in a ConfigMap labelled for Grafana's sidecar, and the alert
rules as a PrometheusRule; the real control plane (tests/kube/conftest.py) accepts the
ConfigMap in a server-side dry-run and hands the same bytes back."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from tcplab.kube import FIELD_MANAGER, Kubectl

from ._render import MANIFESTS, OVERLAYS, ROOT, rendered
from .conftest import ControlPlane

GRAFANA = ROOT / "deploy" / "grafana"
COPIES = MANIFESTS / "base" / "grafana-dashboards"
NAME = "tcplab-grafana-dashboards"


def _shipped() -> dict[str, str]:
    """``file name → text`` of the dashboards in deploy/grafana/."""
    return {p.name: p.read_text() for p in sorted(GRAFANA.glob("*.json"))}


def test_the_base_holds_byte_identical_copies_of_the_generators_output() -> None:
    spec = importlib.util.spec_from_file_location("gen", GRAFANA / "generate.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert gen.KUBE.resolve() == COPIES.resolve()
    shipped = _shipped()
    assert sorted(shipped) == sorted(f"{uid}.json" for uid in gen.DASHBOARDS)
    copies = {p.name: p.read_bytes() for p in sorted(COPIES.glob("*.json"))}
    assert copies == {k: v.encode() for k, v in shipped.items()}
    kustomization = yaml.safe_load((MANIFESTS / "base" / "kustomization.yaml").read_text())
    (generator,) = [g for g in kustomization["configMapGenerator"] if g["name"] == NAME]
    assert sorted(generator["files"]) == [f"grafana-dashboards/{n}" for n in sorted(shipped)]


def _configmap(overlay: str) -> dict[str, object]:
    (cm,) = [c for c in rendered(overlay).of_kind("ConfigMap") if c["metadata"]["name"] == NAME]
    return dict(cm)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_ships_the_dashboards_configmap(overlay: str) -> None:
    cm = _configmap(overlay)
    meta = cm["metadata"]
    assert isinstance(meta, dict)
    assert meta["labels"]["grafana_dashboard"] == "1"
    assert meta["labels"]["app.kubernetes.io/part-of"] == "tcplab"
    assert cm["data"] == _shipped()  # byte-identical text, one key per dashboard
    for text in _shipped().values():
        assert json.loads(text)["uid"].startswith("tcplab-")
    size = sum(len(k) + len(v.encode()) for k, v in _shipped().items())
    assert size < 512 * 1024  # far under a ConfigMap's 1 MiB


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_overlay_ships_the_alert_rules(overlay: str) -> None:
    (rule,) = rendered(overlay).of_kind("PrometheusRule")
    plain = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == plain["groups"]


def test_the_control_plane_accepts_the_configmap(
    control_plane: ControlPlane, namespace: str
) -> None:
    """``kubectl apply --dry-run=server --server-side`` of the rendered ConfigMap (moved into a
    fresh namespace): accepted, and what the API server would store has the same bytes."""
    cm = _configmap("prod")
    cm["metadata"] = {**cm["metadata"], "namespace": namespace}  # type: ignore[dict-item]
    kubectl = Kubectl(str(control_plane.kubeconfig))
    proc = kubectl.run(
        "apply", "--dry-run=server", "--server-side", f"--field-manager={FIELD_MANAGER}",
        "-o", "json", "-f", "-", input=yaml.safe_dump(cm), check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    stored = json.loads(proc.stdout)
    assert stored["kind"] == "ConfigMap" and stored["metadata"]["namespace"] == namespace
    assert stored["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert stored["data"] == _shipped()
