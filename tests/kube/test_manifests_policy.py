"""Pod-security policy over every rendered overlay: the checks of checkov's Kubernetes policy
that apply to our workloads, written in Python (checkov's pins conflict with ours), with a
baseline of accepted findings (``deploy/kubernetes/policy-baseline.yaml``) that must explain
every finding and hold no stale entry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from ._render import MANIFESTS, OVERLAYS, pod_templates, rendered

BASELINE = MANIFESTS / "policy-baseline.yaml"


def _container_findings(c: dict[str, Any]) -> Iterator[str]:
    sc = c.get("securityContext", {})
    if sc.get("allowPrivilegeEscalation") is not False:
        yield "privilege-escalation"  # CKV_K8S_20
    if sc.get("privileged"):
        yield "privileged"  # CKV_K8S_16
    if sc.get("readOnlyRootFilesystem") is not True:
        yield "read-only-root-fs"  # CKV_K8S_22
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        yield "capabilities"  # CKV_K8S_28, CKV_K8S_37
    if sc.get("capabilities", {}).get("add"):
        yield "capabilities-added"  # CKV_K8S_25, CKV_K8S_39
    res = c.get("resources", {})
    for kind in ("requests", "limits"):
        if not {"cpu", "memory"} <= set(res.get(kind, {})):
            yield f"resources-{kind}"  # CKV_K8S_10-13
    image = c["image"]
    if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
        yield "image-tag"  # CKV_K8S_14
    if "@sha256:" not in image:
        yield "image-digest"  # CKV_K8S_43
    if not (c.get("livenessProbe") and c.get("readinessProbe")):
        yield "probes"  # CKV_K8S_8, CKV_K8S_9
    if any(p.get("hostPort") for p in c.get("ports", [])):
        yield "host-port"  # CKV_K8S_26
    if c.get("imagePullPolicy") != "Always":
        yield "pull-policy"  # CKV_K8S_15
    from_secret = [e for e in c.get("env", []) if "secretKeyRef" in e.get("valueFrom", {})]
    if from_secret or any("secretRef" in e for e in c.get("envFrom", [])):
        yield "secret-env"  # CKV_K8S_35


def _pod_findings(pod: dict[str, Any]) -> Iterator[str]:
    sc = pod.get("securityContext", {})
    for host in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(host):
            yield "host-namespaces"  # CKV_K8S_17-19
    if sc.get("runAsNonRoot") is not True or int(sc.get("runAsUser", 0)) < 10000:
        yield "non-root"  # CKV_K8S_23, CKV_K8S_40
    if sc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        yield "seccomp"  # CKV_K8S_31
    if any("hostPath" in v for v in pod.get("volumes", [])):
        yield "host-path"
    if pod.get("automountServiceAccountToken") is not False:
        yield "service-account-token"  # CKV_K8S_38
    if pod.get("serviceAccountName", "default") == "default":
        yield "default-service-account"  # CKV_K8S_41
    for c in pod.get("initContainers", []) + pod["containers"]:
        yield from _container_findings(c)


def findings(overlay: str) -> set[tuple[str, str]]:
    """``(check, Kind/name)`` of every finding in the overlay."""
    return {
        (check, where)
        for where, pod in pod_templates(rendered(overlay))
        for check in _pod_findings(pod)
    }


def _accepted() -> set[tuple[str, str]]:
    data = yaml.safe_load(BASELINE.read_text())
    assert data["schema_version"] == 1
    for entry in data["accepted"]:
        assert len(entry["reason"]) >= 20, entry  # every acceptance says why
    return {(e["check"], e["workload"]) for e in data["accepted"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_finding_is_accepted_with_a_reason(overlay: str) -> None:
    unexplained = findings(overlay) - _accepted()
    assert not unexplained, f"findings not in {BASELINE.name}: {sorted(unexplained)}"


def test_no_stale_baseline_entry() -> None:
    seen = set().union(*(findings(o) for o in OVERLAYS))
    assert not _accepted() - seen


def test_the_policy_catches_what_it_should() -> None:
    bad_pod: dict[str, Any] = {
        "hostNetwork": True,
        "securityContext": {},
        "containers": [{"name": "x", "image": "busybox:latest", "securityContext": {}}],
    }
    found = set(_pod_findings(bad_pod))
    expected = ["host-namespaces", "non-root", "privilege-escalation", "read-only-root-fs"]
    expected += ["resources-limits", "image-tag", "seccomp", "capabilities", "probes"]
    expected += ["pull-policy", "image-digest", "service-account-token"]
    assert set(expected) <= found, set(expected) - found
