"""Prerequisite checks of ``tcplab deploy``: each a function returning a :class:`CheckResult`.

Checks, in order: the kubeconfig context answers; the server's version is one the manifests
were validated for; the CRDs the manifests and the Kubernetes backend need exist (or are
installed from ``deploy/kubernetes/crds`` with ``--install-crds``); the storage classes the
PVCs ask for exist or come with the overlay; an External metrics API (prometheus-adapter) is
available. A failed
``error`` check stops ``apply``; a failed ``warning`` check is printed and apply goes on (no
adapter: the workers' HPA still scales on CPU, not on the queue).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from tcplab.kube._manifests import DeployError, Kubectl, Rendered, first_line, shipped_crds

__all__ = [
    "PLACEHOLDER",
    "SUPPORTED_VERSIONS",
    "CheckResult",
    "check_context",
    "check_crds",
    "check_metrics_adapter",
    "check_server_version",
    "check_storage_classes",
    "run_prerequisites",
]

#: Kubernetes minor versions the manifests are validated for (kubernetes-validate --strict
#: for each; deploy/regions.yaml's clusters run 1.30 and 1.31; the test control plane 1.37)
SUPPORTED_VERSIONS: tuple[tuple[int, int], ...] = tuple((1, m) for m in range(30, 38))
EXTERNAL_METRICS_API = "v1beta1.external.metrics.k8s.io"
#: marks a manifest value the operator must set (us-east-1's EFS ``fileSystemId``)
PLACEHOLDER = "REPLACE-ME"


class CheckResult(BaseModel):
    """The outcome of one check (``--json`` prints these)."""

    schema_version: Literal[1] = 1
    name: str
    ok: bool
    severity: Literal["error", "warning"] = "error"
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)

    def line(self) -> str:
        """One line for the console: ``ok``/``FAIL``/``warn``, the check, the message."""
        mark = "ok  " if self.ok else ("FAIL" if self.severity == "error" else "warn")
        return f"{mark} {self.name}: {self.message}"


def check_context(kubectl: Kubectl) -> CheckResult:
    """The context's API server answers ``/version`` (10 s)."""
    where = kubectl.context or "the current context"
    proc = kubectl.run("version", "-o", "json", "--request-timeout=10s", timeout=20, check=False)
    try:
        server = json.loads(proc.stdout or "{}").get("serverVersion")
    except json.JSONDecodeError:
        server = None
    if proc.returncode != 0 or not server:
        return CheckResult(
            name="context",
            ok=False,
            message=f"{where} is not reachable: {first_line(proc.stderr)}",
        )
    return CheckResult(
        name="context",
        ok=True,
        message=f"{where} answers ({server.get('gitVersion', '?')})",
        detail={"server_version": server},
    )


def check_server_version(kubectl: Kubectl) -> CheckResult:
    """The server's minor version is one of :data:`SUPPORTED_VERSIONS`."""
    server = kubectl.json("version", timeout=20).get("serverVersion") or {}
    git = str(server.get("gitVersion", ""))
    try:
        major, minor = (int(x) for x in git.lstrip("v").split(".")[:2])
    except ValueError:
        return CheckResult(
            name="server-version", ok=False, message=f"cannot read the version {git!r}"
        )
    known = ", ".join(f"{a}.{b}" for a, b in SUPPORTED_VERSIONS)
    ok = (major, minor) in SUPPORTED_VERSIONS
    message = f"{git} is supported" if ok else f"{git} is not supported (validated for {known})"
    return CheckResult(name="server-version", ok=ok, message=message, detail={"git": git})


def _crd_exists(kubectl: Kubectl, name: str) -> bool:
    proc = kubectl.run("get", "crd", name, "-o", "name", "--ignore-not-found", check=False)
    if proc.returncode != 0:
        raise DeployError(f"cannot read CRDs: {first_line(proc.stderr)}")
    return bool(proc.stdout.strip())


def check_crds(
    kubectl: Kubectl, rendered: Rendered, root: Path, install: bool = False
) -> CheckResult:
    """Every CRD ``rendered`` needs exists; with ``install``, missing ones are applied from
    ``root/crds`` (minimal copies: on a real cluster install the operators instead)."""
    import yaml

    missing = [name for name in rendered.crds() if not _crd_exists(kubectl, name)]
    if not missing:
        return CheckResult(name="crds", ok=True, message=f"{len(rendered.crds())} CRDs present")
    if not install:
        return CheckResult(
            name="crds",
            ok=False,
            message=f"missing CRDs: {', '.join(missing)} (install VPA, the Prometheus Operator "
            "and KubeRay, or pass --install-crds for the shipped minimal copies)",
            detail={"missing": missing},
        )
    shipped = shipped_crds(root)
    absent = [name for name in missing if name not in shipped]
    if absent:
        return CheckResult(
            name="crds", ok=False, message=f"missing CRDs, none shipped: {', '.join(absent)}"
        )
    docs = yaml.safe_dump_all([shipped[name] for name in missing], sort_keys=False)
    try:
        kubectl.run("apply", "--server-side", "--field-manager=tcplab-deploy", "-f", "-",
                    input=docs)  # fmt: skip
        for name in missing:
            kubectl.run("wait", "--for=condition=Established", f"crd/{name}", "--timeout=60s")
    except DeployError as exc:
        return CheckResult(name="crds", ok=False, message=f"installing {', '.join(missing)}: {exc}")
    return CheckResult(
        name="crds",
        ok=True,
        message=f"installed the shipped minimal CRDs: {', '.join(missing)}",
        detail={"installed": missing},
    )


def _placeholders(shipped: dict[str, dict[str, Any]]) -> list[str]:
    return [
        f"{name} {key}={value}"
        for name, sc in shipped.items()
        for key, value in (sc.get("parameters") or {}).items()
        if PLACEHOLDER in str(value)
    ]


def check_storage_classes(kubectl: Kubectl, rendered: Rendered) -> CheckResult:
    """The storage classes the PVCs name exist, or the overlay creates them (a region
    overlay's ``tcplab-rwx``); else a PVC stays Pending for ever.

    An overlay's own StorageClass fails the check while a parameter is still a placeholder
    (:data:`PLACEHOLDER`, e.g. us-east-1's EFS ``fileSystemId``), and when a live class of that
    name has another provisioner or other parameters (both are immutable: apply would be
    refused).
    """
    wanted = rendered.storage_classes()
    shipped = {str(o["metadata"]["name"]): o for o in rendered.of_kind("StorageClass")}
    unset = _placeholders(shipped)
    if unset:
        return CheckResult(
            name="storage-class",
            ok=False,
            message=f"the overlay's storage class has a placeholder: {', '.join(unset)} (set "
            "it in a copy of the manifests, --manifests DIR)",
            detail={"placeholders": unset},
        )
    live = set(kubectl.run("get", "storageclass", "-o", "name").stdout.split())
    missing = [
        c for c in wanted if f"storageclass.storage.k8s.io/{c}" not in live and c not in shipped
    ]
    if missing:
        return CheckResult(
            name="storage-class",
            ok=False,
            message=f"no storage class {', '.join(missing)} (the runs volume needs a "
            "ReadWriteMany class; create it or change the overlay's PVC)",
            detail={"missing": missing},
        )
    said = []
    for c in wanted:
        sc = shipped.get(c)
        if sc is None:
            said.append(f"{c} exists")
            continue
        if f"storageclass.storage.k8s.io/{c}" not in live:
            said.append(f"{c} is created by the overlay ({sc.get('provisioner')})")
            continue
        have = kubectl.json("get", "storageclass", c)
        keys = ("provisioner", "parameters")
        if any((have.get(k) or None) != (sc.get(k) or None) for k in keys):
            return CheckResult(
                name="storage-class",
                ok=False,
                message=f"storage class {c} exists with another provisioner or parameters "
                f"({have.get('provisioner')}) than the overlay's ({sc.get('provisioner')}): "
                "they are immutable; delete it or drop it from the overlay",
                detail={"differs": c},
            )
        said.append(f"{c} exists as the overlay has it")
    return CheckResult(name="storage-class", ok=True, message="; ".join(said))


def check_metrics_adapter(kubectl: Kubectl) -> CheckResult:
    """The External metrics API (prometheus-adapter) is registered and Available."""
    proc = kubectl.run("get", "apiservice", EXTERNAL_METRICS_API, "-o", "json", check=False)
    if proc.returncode != 0:
        return CheckResult(
            name="metrics-adapter",
            ok=False,
            severity="warning",
            message=f"no {EXTERNAL_METRICS_API} APIService: the workers' HPA scales on CPU "
            "only (install prometheus-adapter with deploy/kubernetes/addons/prometheus-adapter)",
        )
    conditions = json.loads(proc.stdout).get("status", {}).get("conditions", [])
    available = [c for c in conditions if c.get("type") == "Available"]
    if available and available[0].get("status") == "True":
        return CheckResult(
            name="metrics-adapter", ok=True, message=f"{EXTERNAL_METRICS_API} is Available"
        )
    why = available[0].get("message", "no status yet") if available else "no status yet"
    return CheckResult(
        name="metrics-adapter",
        ok=False,
        severity="warning",
        message=f"{EXTERNAL_METRICS_API} is not Available: {why}",
    )


def run_prerequisites(
    kubectl: Kubectl, rendered: Rendered, root: Path, install_crds: bool = False
) -> list[CheckResult]:
    """Every check in order; after a failed context check the others are not run."""
    first = check_context(kubectl)
    if not first.ok:
        return [first]
    return [
        first,
        check_server_version(kubectl),
        check_crds(kubectl, rendered, root, install=install_crds),
        check_storage_classes(kubectl, rendered),
        check_metrics_adapter(kubectl),
    ]
