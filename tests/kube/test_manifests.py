"""The platform's manifests: every overlay renders with kustomize (the real kubectl) and
passes ``kubernetes-validate --strict`` for the three newest Kubernetes versions it knows;
custom resources are validated against the shipped CRDs' schemas; RBAC, images, autoscaling
and alert rules are what the docs say. (Server-side dry-run: tests/kube/test_deploy.py.)"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tcplab.kube import CRD_OF_KIND, Kubectl, render_overlay, shipped_crds

from ._render import MANIFESTS, OVERLAYS, ROOT, pod_templates, rendered

#: the three newest Kubernetes versions kubernetes-validate knows (1.35-1.37 with 1.37.0)
NEWEST = sorted(
    set(kubernetes_validate.utils.all_versions()),
    key=lambda v: tuple(int(x) for x in v.split(".")),
)[-3:]
CUSTOM = {kind for _, kind in CRD_OF_KIND}


def test_the_overlays_are_dev_prod_and_three_regions() -> None:
    assert OVERLAYS == ["dev", "europe-west1", "prod", "us-east-1", "westeurope"]


@pytest.mark.parametrize("overlay", OVERLAYS)
@pytest.mark.parametrize("version", NEWEST)
def test_overlay_passes_kubernetes_validate_strict(overlay: str, version: str) -> None:
    r = rendered(overlay)
    assert len(r.objects) > 20
    for obj in r.objects:
        if obj["kind"] in CUSTOM:
            continue  # no schema in kubernetes-validate: checked against the CRDs below
        kubernetes_validate.validate(obj, version, strict=True)


def test_every_supported_version_validates_the_regions() -> None:
    """1.30-1.34 too (the Terraform regions run 1.30/1.31), on a region overlay."""
    from tcplab.kube import SUPPORTED_VERSIONS

    regions = yaml.safe_load((ROOT / "deploy" / "regions.yaml").read_text())["regions"]
    wanted = {tuple(int(x) for x in r["kubernetes_version"].split(".")) for r in regions}
    assert wanted <= set(SUPPORTED_VERSIONS)
    older = [f"{a}.{b}.0" for a, b in SUPPORTED_VERSIONS if f"{a}.{b}.0" not in NEWEST]
    for overlay in ("us-east-1",):  # the regions differ only in names
        for obj in rendered(overlay).objects:
            if obj["kind"] not in CUSTOM:
                for version in older:
                    kubernetes_validate.validate(obj, version, strict=True)


def _crd_schema(crd: dict[str, Any]) -> dict[str, Any]:
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_the_shipped_crds(overlay: str) -> None:
    crds = shipped_crds(MANIFESTS)
    seen = set()
    for obj in rendered(overlay).objects:
        if obj["kind"] not in CUSTOM:
            continue
        group = obj["apiVersion"].rpartition("/")[0]
        crd = crds[CRD_OF_KIND[(group, obj["kind"])]]
        jsonschema.validate(obj, _crd_schema(crd))
        seen.add(obj["kind"])
    assert seen == {"VerticalPodAutoscaler", "ServiceMonitor", "PrometheusRule"}


def test_the_prometheus_adapter_addon_renders() -> None:
    text = Kubectl().run("kustomize", str(MANIFESTS / "addons" / "prometheus-adapter")).stdout
    (cm,) = list(yaml.safe_load_all(text))
    kubernetes_validate.validate(cm, NEWEST[-1], strict=True)
    rules = yaml.safe_load(cm["data"]["config.yaml"])["externalRules"]
    assert rules[0]["name"]["as"] == "tcplab_queue_depth"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_images_are_pinned_never_latest(overlay: str) -> None:
    for where, pod in pod_templates(rendered(overlay)):
        for c in pod.get("initContainers", []) + pod["containers"]:
            image = c["image"]
            name, _, tag = image.rpartition(":")
            assert "@sha256:" in image or (name and tag and tag != "latest"), (where, image)


def test_the_api_role_is_exactly_what_the_backend_needs() -> None:
    r = rendered("prod")
    assert not r.of_kind("ClusterRole") and not r.of_kind("ClusterRoleBinding")
    (role,) = r.of_kind("Role")
    rules = {(g, res): sorted(rule["verbs"]) for rule in role["rules"]
             for g in rule["apiGroups"] for res in rule["resources"]}  # fmt: skip
    crud = sorted(["create", "get", "list", "watch", "delete"])
    assert rules == {
        ("batch", "jobs"): crud,
        ("ray.io", "rayjobs"): crud,
        ("", "configmaps"): sorted(["create", "get", "list", "delete"]),
        ("", "pods"): sorted(["get", "list", "watch"]),
        ("", "pods/log"): ["get"],
    }
    (binding,) = r.of_kind("RoleBinding")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tcplab-api", "namespace": "tcplab"}
    ]
    accounts = {sa["metadata"]["name"]: sa for sa in r.of_kind("ServiceAccount")}
    for name in ("tcplab-serve", "tcplab-worker", "tcplab-experiment"):
        assert accounts[name]["automountServiceAccountToken"] is False, name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_kube_workers_hold_a_token_and_run_their_own_image(overlay: str) -> None:
    pods = dict(pod_templates(rendered(overlay)))
    with_token = [w for w, pod in pods.items() if pod.get("automountServiceAccountToken")]
    assert with_token == ["Deployment/tcplab-kube-worker"]
    kube = pods["Deployment/tcplab-kube-worker"]
    assert kube["serviceAccountName"] == "tcplab-api"
    (c,) = kube["containers"]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["TCPLAB_KUBE_IMAGE"] == c["image"]
    assert env["TCPLAB_KUBE_SERVICE_ACCOUNT"] == "tcplab-experiment"
    assert c["args"][:3] == ["worker", "--backend", "kubernetes"]


def test_dev_binds_the_role_in_its_own_namespace() -> None:
    r = rendered("dev")
    assert r.namespace == "tcplab-dev"
    assert r.of_kind("RoleBinding")[0]["subjects"][0]["namespace"] == "tcplab-dev"
    namespaced = [o for o in r.objects if o["kind"] not in ("Namespace", "PriorityClass")]
    assert {o["metadata"].get("namespace") for o in namespaced} == {"tcplab-dev"}


def test_priority_classes_match_the_service_classes() -> None:
    from tcplab.service import PRIORITY_CLASSES

    names = rendered("prod").names("PriorityClass")
    assert sorted(names) == sorted(f"tcplab-{c}" for c in PRIORITY_CLASSES)


def test_the_hpa_scales_workers_on_the_exported_queue_depth_and_cpu() -> None:
    (hpa,) = rendered("prod").of_kind("HorizontalPodAutoscaler")
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["External"]["external"]["metric"]["name"] == "tcplab_queue_depth"
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    exported = (ROOT / "src" / "tcplab" / "service" / "_metrics.py").read_text()
    assert '"tcplab_queue_depth"' in exported
    worker = next(d for d in rendered("prod").of_kind("Deployment")
                  if d["metadata"]["name"] == "tcplab-worker")  # fmt: skip
    assert "replicas" not in worker["spec"]  # the HPA owns it
    for vpa in rendered("prod").of_kind("VerticalPodAutoscaler"):
        assert vpa["spec"]["updatePolicy"]["updateMode"] == "Off"


def test_the_prometheus_rule_is_the_monitoring_one() -> None:
    shipped = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheusrule.yaml").read_text())
    (rule,) = rendered("prod").of_kind("PrometheusRule")
    assert rule["spec"] == shipped["spec"]


def test_network_policies_deny_by_default_then_allow_per_component() -> None:
    policies = {p["metadata"]["name"]: p for p in rendered("prod").of_kind("NetworkPolicy")}
    deny = policies["default-deny"]["spec"]
    assert deny["podSelector"] == {} and sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny and "egress" not in deny
    api_in = policies["api-ingress"]["spec"]["ingress"]
    assert {p["port"] for rule in api_in for p in rule["ports"]} == {8000}
    worker_out = policies["worker-egress"]["spec"]["egress"]
    assert {p["port"] for rule in worker_out for p in rule["ports"]} == {5432, 443}
    kube_out = policies["kube-worker-egress"]["spec"]["egress"]
    assert {p["port"] for rule in kube_out for p in rule["ports"]} == {443, 6443}
    experiment = policies["experiment-egress"]["spec"]
    keys = {e["key"] for e in experiment["podSelector"]["matchExpressions"]}
    assert keys == {"app.kubernetes.io/managed-by", "tcplab.dev/job-id"}
    assert {p["port"] for rule in experiment["egress"] for p in rule["ports"]} == {443}


def test_region_overlays_pin_their_region() -> None:
    for region in ("us-east-1", "europe-west1", "westeurope"):
        r = rendered(region)
        for where, pod in pod_templates(r):
            term = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            expr = term["nodeSelectorTerms"][0]["matchExpressions"][0]
            assert expr["values"] == [region], where
        for name in ("tcplab-worker", "tcplab-kube-worker"):
            worker = dict(pod_templates(r))[f"Deployment/{name}"]
            assert worker["containers"][0]["args"][-2:] == ["--region", region]


def test_an_unknown_overlay_is_one_line() -> None:
    from tcplab.kube import DeployError

    with pytest.raises(DeployError, match="unknown overlay 'nope'; known: dev, europe-west1"):
        render_overlay(Kubectl(), MANIFESTS, "nope")


def test_the_autoscaler_values_use_the_backends_placement_vocabulary() -> None:
    values = yaml.safe_load((MANIFESTS / "cluster-autoscaler" / "values.yaml").read_text())
    groups = values["nodeGroups"]
    assert groups["gpu"]["labels"] == {"tcplab.dev/hardware": "gpu"}
    assert groups["fpga"]["labels"] == {"tcplab.dev/hardware": "fpga"}
    assert groups["low-latency"]["labels"] == {"tcplab.dev/node-class": "low-latency"}
    taints = {t.split("=")[0] for g in groups.values() for t in g.get("taints", [])}
    assert taints == {"nvidia.com/gpu", "xilinx.com/fpga", "tcplab.dev/node-class"}
    assert groups["gpu"]["minSize"] == 0 and groups["fpga"]["minSize"] == 0


RWX_PROVISIONERS = {
    "us-east-1": "efs.csi.aws.com",
    "europe-west1": "filestore.csi.storage.gke.io",
    "westeurope": "file.csi.azure.com",
}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_runs_class_comes_from_the_region_overlays_only(overlay: str) -> None:
    """A region overlay creates ``tcplab-rwx`` on its cloud's RWX CSI driver; prod expects it
    in the cluster, dev uses ``standard``."""
    r = rendered(overlay)
    classes = {sc["metadata"]["name"]: sc for sc in r.of_kind("StorageClass")}
    if overlay not in RWX_PROVISIONERS:
        assert classes == {}
        assert r.storage_classes() == (["standard"] if overlay == "dev" else ["tcplab-rwx"])
        return
    assert r.storage_classes() == ["tcplab-rwx"] and list(classes) == ["tcplab-rwx"]
    sc = classes["tcplab-rwx"]
    assert sc["provisioner"] == RWX_PROVISIONERS[overlay]
    assert "namespace" not in sc["metadata"] and sc["reclaimPolicy"] == "Retain"
    params = sc["parameters"]
    if overlay == "us-east-1":
        assert params["provisioningMode"] == "efs-ap"
        assert params["fileSystemId"] == "fs-REPLACE-ME"  # the operator sets it
        assert (params["uid"], params["gid"]) == ("10001", "10001")
    elif overlay == "europe-west1":
        assert params["tier"] == "standard" and params["network"] == "tcplab-europe-west1"
    else:
        assert params["skuName"] == "Standard_ZRS"
        assert {"uid=10001", "gid=10001"} <= set(sc["mountOptions"])


def test_the_manifests_are_package_data_and_deploy_kubernetes_links_there() -> None:
    from tcplab.kube import list_overlays, manifests_root

    link = ROOT / "deploy" / "kubernetes"
    assert link.is_symlink() and str(link.readlink()) == "../src/tcplab/data/kubernetes"
    root = manifests_root()
    assert root.resolve() == (ROOT / "src" / "tcplab" / "data" / "kubernetes").resolve()
    assert list_overlays(root) == OVERLAYS
