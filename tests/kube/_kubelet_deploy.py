"""Plays the kubelet for Deployments' pods (a test double; no kubelet runs here): binds each
new pod of a namespace to the fixture node and patches its status to Running with every
container started and Ready, so the real ReplicaSet and Deployment controllers see available
replicas and ``kubectl rollout status`` finishes; it confirms the deletion of pods being
deleted, as a kubelet does once their containers stopped, and releases a claim being deleted
once no pod is left (the pvc-protection controller's part, not run by the test control
plane). Nothing is run: no image, no process. One API client for its whole life."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .conftest import NODE, ControlPlane


@dataclass
class PodsReady:
    """Marks every pod of ``namespace`` Running and Ready (see the module doc)."""

    cp: ControlPlane
    namespace: str
    handled: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _client: Any = None

    def _bind(self, pod: Any) -> None:
        from lightkube.models.core_v1 import ObjectReference
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Binding

        self._client.create(
            Binding(
                metadata=ObjectMeta(name=pod.metadata.name, namespace=self.namespace),
                target=ObjectReference(kind="Node", name=NODE, apiVersion="v1"),
            )
        )

    def _ready(self, pod: Any) -> None:
        from lightkube.resources.core_v1 import Pod

        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        conditions = [
            {"type": t, "status": "True", "lastTransitionTime": now}
            for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
        ]
        statuses = [
            {"name": c.name, "image": c.image, "imageID": "", "ready": True, "started": True,
             "restartCount": 0, "state": {"running": {"startedAt": now}}}
            for c in pod.spec.containers
        ]  # fmt: skip
        # no podIP: nothing listens anywhere, so the Service has no endpoints (said at once)
        status = {"phase": "Running", "conditions": conditions, "containerStatuses": statuses}
        status |= {"hostIP": "10.0.0.1", "startTime": now}
        self._client.patch(
            Pod.Status, pod.metadata.name, {"status": status}, namespace=self.namespace
        )

    def _release_claims(self) -> None:
        """Plays the pvc-protection controller (not run by the test control plane): a claim
        being deleted loses its finalizer once no pod of the namespace is left."""
        from lightkube.resources.core_v1 import PersistentVolumeClaim, Pod

        if list(self._client.list(Pod, namespace=self.namespace)):
            return
        for pvc in self._client.list(PersistentVolumeClaim, namespace=self.namespace):
            if pvc.metadata.deletionTimestamp and pvc.metadata.finalizers:
                patch = {"metadata": {"finalizers": None}}
                self._client.patch(PersistentVolumeClaim, pvc.metadata.name, patch)

    def _step(self) -> None:
        from lightkube.resources.core_v1 import Pod

        self._release_claims()
        for pod in self._client.list(Pod, namespace=self.namespace):
            name = pod.metadata.name
            try:
                if pod.metadata.deletionTimestamp:  # a kubelet confirms the deletion
                    self._client.delete(Pod, name, namespace=self.namespace, grace_period=0)
                elif name not in self.handled:
                    if not pod.spec.nodeName:
                        # the API answers a binding with a Status, which lightkube then
                        # fails to read as a Binding: the binding itself is done
                        with contextlib.suppress(Exception):
                            self._bind(pod)
                    self._ready(pod)
                    self.handled.add(name)
            except Exception as exc:
                if "NotFound" not in type(exc).__name__ + str(exc):
                    self.errors.append(f"{name}: {exc!r}")

    def _loop(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # the namespace may not exist yet
                self._step()
            self._stop.wait(0.2)

    def _ensure_node(self) -> None:
        """The fixture node (the same as conftest's FixtureKubelet's), Ready."""
        from lightkube.models.meta_v1 import ObjectMeta
        from lightkube.resources.core_v1 import Node

        with contextlib.suppress(Exception):  # it exists already
            self._client.create(Node(metadata=ObjectMeta(name=NODE, labels={"fixture": "kubelet"})))
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ready = {"type": "Ready", "status": "True", "reason": "FixtureKubelet"}
        ready |= {"lastHeartbeatTime": now, "lastTransitionTime": now}
        room = {"cpu": "64", "memory": "256Gi", "pods": "500"}
        status = {"conditions": [ready], "capacity": room, "allocatable": room}
        self._client.patch(Node.Status, NODE, {"status": status})

    def start(self) -> PodsReady:
        self._client = self.cp.client(self.namespace)
        self._ensure_node()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._client is not None:
            self._client.close()
