"""ResourceWatch against the real API server: it resumes from the last resourceVersion after
each server-side timeout (no event twice, none lost) and reconnects after transport errors."""

from __future__ import annotations

import queue
import time
from typing import Any

from tcplab.kube import ResourceWatch

from .conftest import ControlPlane


def _cm(name: str) -> Any:
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    return ConfigMap(metadata=ObjectMeta(name=name, labels={"w": "1"}), data={"k": "v"})


def _drain(
    events: queue.Queue[tuple[str, str, Any]], n: int, timeout: float
) -> list[tuple[str, str]]:
    got: list[tuple[str, str]] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        try:
            _kind, etype, obj = events.get(timeout=0.5)
        except queue.Empty:
            continue
        got.append((etype, obj.metadata.name))
    return got


def test_watch_resumes_across_server_timeouts(control_plane: ControlPlane, namespace: str) -> None:
    from lightkube.resources.core_v1 import ConfigMap

    client = control_plane.client(namespace)
    client.create(_cm("before"), namespace=namespace)
    events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
    w = ResourceWatch(client, ConfigMap, namespace, events, labels={"w": "1"}, timeout=1).start()
    try:
        assert _drain(events, 1, 30) == [("ADDED", "before")]  # the initial list
        time.sleep(2.5)  # at least two server-side timeouts: two reconnects from the rv
        client.create(_cm("after"), namespace=namespace)
        client.delete(ConfigMap, "before", namespace=namespace)
        got = _drain(events, 2, 30)
        assert got == [("ADDED", "after"), ("DELETED", "before")]
        time.sleep(1.5)
        assert events.empty(), "a reconnect replayed events (resourceVersion not resumed)"
    finally:
        w.stop()


def test_watch_reconnects_after_transport_errors(control_plane: ControlPlane) -> None:
    import yaml
    from lightkube import Client, KubeConfig
    from lightkube.resources.core_v1 import ConfigMap

    from ..service.conftest import free_port

    doc = yaml.safe_load(control_plane.kubeconfig.read_text())  # same user, nothing listening
    doc["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{free_port()}"
    client = Client(KubeConfig.from_dict(doc), trust_env=False)
    events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
    w = ResourceWatch(client, ConfigMap, "default", events, timeout=1).start()
    try:
        deadline = time.monotonic() + 20
        while w.reconnects < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert w.reconnects >= 3 and events.empty()
    finally:
        w.stop()
        time.sleep(0.5)
        client.close()
