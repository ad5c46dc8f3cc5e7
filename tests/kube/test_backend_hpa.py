"""The worker HPA on ``tcplab_queue_depth`` against the real HPA controller.

A test fixture plays prometheus-adapter (which cannot run here): a small HTTPS server on
127.0.0.1 serving the ``external.metrics.k8s.io/v1beta1`` API, registered with the real
aggregator through an ``APIService`` and an ``ExternalName`` Service. Its value is read, on
every request, from the running service's own ``/metrics`` (``tcplab_queue_depth`` summed over
priority classes), so the jobs submitted below are what the HPA sees.

The HPA is the manifests' External metric (tcplab_queue_depth, averageValue 2 per replica) with
test timings (no CPU metric: no metrics-server runs here; scale-down stabilisation 0 s).
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ..service.conftest import Stack, fake_spec, pg_schema, wait_for
from .conftest import ControlPlane

NS = "tcplab-hpa"
GV = "external.metrics.k8s.io/v1beta1"
METRIC = "tcplab_queue_depth"


def queue_depth(stack: Stack, token: str) -> int:
    text = httpx.get(
        f"{stack.base}/metrics", headers={"Authorization": f"Bearer {token}"}, timeout=10
    ).text
    return int(sum(float(v) for v in re.findall(rf"^{METRIC}\{{[^}}]*\}} (\S+)$", text, re.M)))


class _Handler(BaseHTTPRequestHandler):
    source: Any = None

    def log_message(self, *args: Any) -> None:  # quiet
        return None

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = self.path.split("?")[0].rstrip("/")
        if path == f"/apis/{GV}":
            resource = {"name": METRIC, "singularName": "", "namespaced": True}
            resource |= {"kind": "ExternalMetricValueList", "verbs": ["get"]}
            self._send(200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": GV,
                             "resources": [resource]})  # fmt: skip
            return
        if path.startswith(f"/apis/{GV}/namespaces/") and path.endswith(f"/{METRIC}"):
            value = str(self.source())
            item = {"metricName": METRIC, "metricLabels": {}, "value": value,
                    "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
            self._send(200, {"kind": "ExternalMetricValueList", "apiVersion": GV,
                             "metadata": {}, "items": [item]})  # fmt: skip
            return
        self._send(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404})


@pytest.fixture
def metrics_api(tmp_path: Path) -> Iterator[tuple[int, type[_Handler]]]:
    """The External metrics server (HTTPS, self-signed) on a free loopback port."""
    key, crt = tmp_path / "tls.key", tmp_path / "tls.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    handler = type("Handler", (_Handler,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(crt), str(key))
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _objects(port: int) -> list[dict[str, Any]]:
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "tcplab-worker", "namespace": NS},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "w"}},
                 "template": {"metadata": {"labels": {"app": "w"}},
                              "spec": {"containers": [{"name": "worker",
                                                       "image": "registry.invalid/tcplab:1"}]}}},
    }  # fmt: skip
    docs = yaml.safe_load_all(
        (Path(__file__).parents[2] / "deploy/kubernetes/base/autoscaling.yaml").read_text()
    )  # the manifests' HPA, less the CPU metric, with test timings
    hpa = next(d for d in docs if d and d["kind"] == "HorizontalPodAutoscaler")
    hpa["metadata"]["namespace"] = NS
    hpa["spec"]["metrics"] = [m for m in hpa["spec"]["metrics"] if m["type"] == "External"]
    hpa["spec"]["behavior"] = {
        "scaleUp": {"stabilizationWindowSeconds": 0},
        "scaleDown": {"stabilizationWindowSeconds": 0},
    }
    service = {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "metrics-fixture", "namespace": NS},
        "spec": {"type": "ExternalName", "externalName": "localhost"},
    }  # fmt: skip
    apiservice = {
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": {"name": "v1beta1.external.metrics.k8s.io"},
        "spec": {"group": "external.metrics.k8s.io", "version": "v1beta1",
                 "insecureSkipTLSVerify": True, "groupPriorityMinimum": 100,
                 "versionPriority": 100,
                 "service": {"name": "metrics-fixture", "namespace": NS, "port": port}},
    }  # fmt: skip
    return [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
            service, apiservice, deployment, hpa]  # fmt: skip


def _replicas(cp: ControlPlane) -> int:
    done = cp.kubectl("get", "deploy", "tcplab-worker", "-n", NS, "-o", "jsonpath={.spec.replicas}")
    return int(done.stdout or 0)


def test_hpa_scales_workers_on_the_service_queue_depth(
    control_plane: ControlPlane, metrics_api: tuple[int, type[_Handler]], tmp_path: Path
) -> None:
    port, handler = metrics_api
    with pg_schema() as url:
        stack = Stack(url, tmp_path / "home")
        stack.home.mkdir()
        try:
            stack.serve()
            viewer, alice = stack.token("prom", "viewer"), stack.token("alice")
            handler.source = staticmethod(lambda: queue_depth(stack, viewer))
            applied = control_plane.kubectl(
                "apply", "-f", "-", input=yaml.safe_dump_all(_objects(port))
            )
            assert applied.returncode == 0, applied.stderr
            wait_for(
                "the External metrics API to be Available",
                lambda: control_plane.kubectl(
                    "get", "--raw", f"/apis/{GV}/namespaces/{NS}/{METRIC}"
                ).returncode == 0,
                timeout=90,
            )  # fmt: skip
            ids = []
            with stack.client(alice) as c:  # no worker runs: the jobs stay queued
                for i in range(8):
                    r = c.post("/jobs", json={"spec": fake_spec(f"q{i}"), "backend": "local"})
                    assert r.status_code in (200, 201, 202), r.text
                    ids.append(r.json()["id"])
            assert queue_depth(stack, viewer) == 8
            wait_for(
                "8 queued jobs to scale the workers to 4",
                lambda: _replicas(control_plane) == 4,
                timeout=120,
            )
            with stack.client(alice) as c:  # drain
                for job_id in ids:
                    assert c.post(f"/jobs/{job_id}/cancel").status_code in (200, 202)
            assert queue_depth(stack, viewer) == 0
            wait_for(
                "the drained queue to scale them down to 1",
                lambda: _replicas(control_plane) == 1,
                timeout=120,
            )
        finally:
            control_plane.kubectl("delete", "apiservice", "v1beta1.external.metrics.k8s.io")
            control_plane.kubectl("delete", "namespace", NS, "--wait=false")
            stack.close()
