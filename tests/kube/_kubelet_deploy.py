"""Plays the kubelet for Deployments' pods (a test double; no kubelet runs here): binds each
new pod of a namespace to the fixture node and patches its status to Running with every
container started and Ready, so the real ReplicaSet and Deployment controllers see available
replicas and ``kubectl rollout status`` finishes. Nothing is run: no image, no process."""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from .conftest import ControlPlane, FixtureKubelet


@dataclass
class PodsReady:
    """Marks every pod of ``namespace`` Running and Ready (see the module doc)."""

    cp: ControlPlane
    namespace: str
    handled: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

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
        self.cp.client(self.namespace).patch(
            Pod.Status, pod.metadata.name, {"status": status}, namespace=self.namespace
        )

    def _loop(self) -> None:
        from lightkube.resources.core_v1 import Pod

        kubelet = FixtureKubelet(self.cp, self.namespace)
        client = self.cp.client(self.namespace)
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # the namespace may not exist yet
                for pod in client.list(Pod, namespace=self.namespace):
                    name = pod.metadata.name
                    if pod.metadata.deletionTimestamp:  # a kubelet confirms the deletion
                        client.delete(Pod, name, namespace=self.namespace, grace_period=0)
                        continue
                    if name in self.handled:
                        continue
                    try:
                        if not pod.spec.nodeName:
                            kubelet.bind(name)
                        self._ready(pod)
                        self.handled.add(name)
                    except Exception as exc:
                        self.errors.append(f"{name}: {exc!r}")
            self._stop.wait(0.2)

    def start(self) -> PodsReady:
        FixtureKubelet(self.cp, self.namespace).ensure_node()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
