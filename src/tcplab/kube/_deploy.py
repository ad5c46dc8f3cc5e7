"""``tcplab deploy plan|apply|verify|destroy``: what each does to the cluster, through kubectl.

* **plan**: ``kubectl diff --server-side`` of the rendered overlay (the server dry-runs the
  apply, with admission and defaulting, and the diff is against the live objects). A missing
  namespace means every object is new: plan lists them.
* **apply**: server-side apply with the field manager ``tcplab-deploy`` and
  ``--force-conflicts`` (the manifests own the fields they set; ``plan`` shows beforehand what
  a hand edit would lose), then waits for every Deployment's rollout.
* **verify**: the smoke test (:func:`smoke`): Deployments available, the API's readiness
  endpoint, and a tiny experiment (two tools, the ``fake`` arm) submitted and completed.
* **destroy**: deletes the overlay's namespaced objects; the runs volume and the namespace only
  with ``delete_data``; the cluster-wide PriorityClasses and a region overlay's StorageClass
  never (other overlays share them; a retained volume still names its class).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from tcplab.kube._checks import CheckResult
from tcplab.kube._manifests import DeployError, Kubectl, Rendered, first_line

__all__ = [
    "FIELD_MANAGER",
    "SMOKE_SPEC",
    "Plan",
    "apply_overlay",
    "destroy_overlay",
    "plan_overlay",
    "smoke",
    "wait_rollouts",
]

FIELD_MANAGER = "tcplab-deploy"
_CLUSTER_KINDS = {"Namespace", "PriorityClass", "CustomResourceDefinition", "StorageClass"}
#: the smoke test's experiment: two tools, one ``fake`` arm, inline (seconds on one worker)
SMOKE_SPEC: dict[str, Any] = {
    "spec_version": 1,
    "name": "deploy-smoke",
    "tools": {"kind": "list", "names": ["smoke-tool-a", "smoke-tool-b"]},
    "arms": [{"name": "fake", "analyzer": "fake"}],
    "executor": {"kind": "inline"},
    "shard_size": 2,
}

Progress = Callable[[str], None]


class Plan(BaseModel):
    """What ``apply`` would change."""

    schema_version: int = 1
    overlay: str
    namespace: str
    namespace_exists: bool
    changed: bool
    diff: str = ""
    new_objects: list[str] = []


def _object_ids(rendered: Rendered) -> list[str]:
    return [f"{o['kind']}/{o['metadata']['name']}" for o in rendered.objects]


def plan_overlay(kubectl: Kubectl, rendered: Rendered) -> Plan:
    """The server-side diff of ``rendered`` against the live cluster."""
    ns = rendered.namespace
    exists = kubectl.run("get", "namespace", ns, "-o", "name", "--ignore-not-found").stdout
    if not exists.strip():
        return Plan(
            overlay=rendered.overlay,
            namespace=ns,
            namespace_exists=False,
            changed=True,
            new_objects=_object_ids(rendered),
        )
    proc = kubectl.run(
        "diff",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        "-f",
        "-",
        input=rendered.text,
        timeout=300,
        check=False,
    )
    if proc.returncode not in (0, 1):  # kubectl diff: 0 same, 1 different, >1 an error
        raise DeployError(f"kubectl diff failed: {first_line(proc.stderr)}")
    return Plan(
        overlay=rendered.overlay,
        namespace=ns,
        namespace_exists=True,
        changed=proc.returncode == 1,
        diff=proc.stdout,
    )


def apply_overlay(kubectl: Kubectl, rendered: Rendered) -> list[str]:
    """Server-side apply of every object; kubectl's one line per object."""
    out = kubectl.run(
        "apply",
        "--server-side",
        f"--field-manager={FIELD_MANAGER}",
        "--force-conflicts",
        "-f",
        "-",
        input=rendered.text,
        timeout=300,
    ).stdout
    return [line for line in out.splitlines() if line.strip()]


def wait_rollouts(
    kubectl: Kubectl, rendered: Rendered, timeout: float, progress: Progress
) -> dict[str, float]:
    """``kubectl rollout status`` of each Deployment, its lines passed to ``progress``; the
    seconds each took.

    Raises:
        DeployError: a rollout not done within ``timeout`` seconds (all together).
    """
    deadline = time.monotonic() + timeout
    took: dict[str, float] = {}
    for name in rendered.names("Deployment"):
        left = max(1, int(deadline - time.monotonic()))
        t0 = time.monotonic()
        argv = kubectl.argv(
            "rollout", "status", f"deployment/{name}", "-n", rendered.namespace,
            f"--timeout={left}s",
        )  # fmt: skip
        with subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            assert proc.stdout is not None
            last = ""
            for line in proc.stdout:
                last = line.strip() or last
                progress(f"{name}: {last}")
            code = proc.wait(timeout=left + 30)
        if code != 0:
            raise DeployError(f"deployment {name} did not roll out within {timeout:g} s: {last}")
        took[name] = round(time.monotonic() - t0, 2)
    return took


def _deployments_available(kubectl: Kubectl, rendered: Rendered) -> CheckResult:
    live = kubectl.json("get", "deployments", "-n", rendered.namespace)["items"]
    state = {}
    for d in live:
        cond = {c["type"]: c["status"] for c in d.get("status", {}).get("conditions", [])}
        avail = d.get("status", {}).get("availableReplicas", 0)
        state[d["metadata"]["name"]] = cond.get("Available") == "True" and avail > 0
    bad = [n for n in rendered.names("Deployment") if not state.get(n)]
    if bad:
        return CheckResult(name="deployments", ok=False, message=f"not available: {', '.join(bad)}")
    return CheckResult(name="deployments", ok=True, message="every Deployment is available")


def _health(kubectl: Kubectl, rendered: Rendered, url: str | None) -> CheckResult:
    if url:
        import httpx

        try:
            r = httpx.get(f"{url.rstrip('/')}/api/v1/health/ready", timeout=10)
        except httpx.TransportError as exc:
            return CheckResult(name="health", ok=False, message=f"{url} is not reachable: {exc}")
        ok = r.status_code == 200
        return CheckResult(
            name="health", ok=ok, message=f"{url}: HTTP {r.status_code} {r.text[:120]}"
        )
    service = f"/api/v1/namespaces/{rendered.namespace}/services/tcplab-api:http"
    path = f"{service}/proxy/api/v1/health/ready"
    proc = kubectl.run("get", "--raw", path, "--request-timeout=15s", timeout=30, check=False)
    if proc.returncode != 0:
        why = first_line(proc.stderr)
        return CheckResult(
            name="health", ok=False, message=f"through the API server's proxy: {why}"
        )
    return CheckResult(name="health", ok=True, message=f"ready: {proc.stdout.strip()[:120]}")


def _experiment(url: str | None, token: str | None, timeout: float) -> CheckResult:
    if not url or not token:
        return CheckResult(
            name="experiment",
            ok=False,
            message="not run: it needs --url (the Ingress or a port-forward) and --token "
            "(or TCPLAB_API_URL / TCPLAB_API_TOKEN)",
        )
    from tcplab.service.client import ApiClient

    client = ApiClient(url, token)
    try:
        body = {"spec": SMOKE_SPEC, "priority": 9, "client_key": f"deploy-smoke-{time.time_ns()}"}
        job = client.submit(body)
        deadline = time.monotonic() + timeout
        while job.state not in ("succeeded", "failed", "cancelled"):
            if time.monotonic() > deadline:
                return CheckResult(
                    name="experiment",
                    ok=False,
                    message=f"job {job.id} still {job.state} after {timeout:g} s",
                )
            time.sleep(1)
            job = client.job(job.id)
    finally:
        client.close()
    ok = job.state == "succeeded"
    why = "" if ok else f": {job.reason}"
    return CheckResult(
        name="experiment",
        ok=ok,
        message=f"job {job.id} {job.state}{why}",
        detail={"job_id": job.id, "run_id": job.run_id},
    )


def smoke(
    kubectl: Kubectl,
    rendered: Rendered,
    url: str | None = None,
    token: str | None = None,
    timeout: float = 300,
) -> list[CheckResult]:
    """The smoke test: Deployments available, readiness, a tiny experiment completed."""
    return [
        _deployments_available(kubectl, rendered),
        _health(kubectl, rendered, url),
        _experiment(url, token, timeout),
    ]


def destroy_overlay(
    kubectl: Kubectl, rendered: Rendered, delete_data: bool = False, timeout: float = 300
) -> list[str]:
    """Delete the overlay's namespaced objects (see the module doc); kubectl's lines."""
    import yaml

    keep = set(_CLUSTER_KINDS)
    if not delete_data:
        keep.add("PersistentVolumeClaim")
    docs = [o for o in rendered.objects if o.get("kind") not in keep]
    if delete_data:
        docs += rendered.of_kind("Namespace")
    out = kubectl.run(
        "delete", "--ignore-not-found", "--wait=true", f"--timeout={int(timeout)}s", "-f", "-",
        input=yaml.safe_dump_all(docs, sort_keys=False),
        timeout=timeout + 30,
    ).stdout  # fmt: skip
    return [line for line in out.splitlines() if line.strip()]
