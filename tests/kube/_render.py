"""Render the shipped overlays once per test session (kubectl kustomize, the real binary)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from tcplab.kube import Kubectl, Rendered, list_overlays, render_overlay

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = ROOT / "deploy" / "kubernetes"
OVERLAYS = list_overlays(MANIFESTS)


@functools.cache
def rendered(overlay: str) -> Rendered:
    """The overlay as kustomize renders it."""
    return render_overlay(Kubectl(), MANIFESTS, overlay)


def pod_templates(r: Rendered) -> list[tuple[str, dict[str, Any]]]:
    """``(Kind/name, pod spec)`` of every workload in ``r``."""
    out = []
    for obj in r.objects:
        if obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            where = f"{obj['kind']}/{obj['metadata']['name']}"
            out.append((where, obj["spec"]["template"]["spec"]))
    return out
