"""Settings of the Kubernetes backend, from ``TCPLAB_KUBE_*`` environment variables.

Nothing names a namespace or an image by default: the namespace comes from
``TCPLAB_KUBE_NAMESPACE``, else the pod's own (in-cluster), else the kubeconfig context's; the
image must be pinned (``repo@sha256:...`` or a tag other than ``latest``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tcplab.errors import ConfigError

__all__ = ["IN_CLUSTER_NAMESPACE", "KubeSettings", "load_kube_settings"]

IN_CLUSTER_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
_DIGEST = re.compile(r"^[^@\s]+@sha256:[0-9a-f]{64}$")
_TAGGED = re.compile(r"^[^@\s]+:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")


class KubeSettings(BaseModel):
    """How experiments become Kubernetes Jobs (docs/kubernetes.md, "Backend settings")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = 1
    namespace: str | None = Field(default=None, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
    kubeconfig: str | None = None
    image: str
    service_account: str = "tcplab-experiment"
    runs_claim: str = "tcplab-runs"
    data_mount: str = "/var/lib/tcplab"  # where the claim is mounted in the pod (TCPLAB_HOME)
    pod_runs_dir: str = "/var/lib/tcplab/runs"  # the service's runs dir as the pod sees it
    max_groups: int = Field(default=4, ge=1, le=1000)
    backoff_limit: int = Field(default=2, ge=0, le=100)
    deadline_seconds: int = Field(default=86_400, ge=1)
    ttl_seconds: int = Field(default=3_600, ge=0)
    max_cpu: float = Field(default=8.0, gt=0)
    max_memory_mib: int = Field(default=32_768, ge=64)
    image_pull_grace_seconds: float = Field(default=120.0, ge=0)
    watch_timeout_seconds: int = Field(default=30, ge=1, le=3600)

    @field_validator("image")
    @classmethod
    def _pinned(cls, value: str) -> str:
        if _DIGEST.match(value):
            return value
        m = _TAGGED.match(value.rsplit("/", 1)[-1] if "/" in value else value)
        if m is None or m.group("tag") == "latest":
            raise ValueError(
                f"{value!r} is not pinned: use repo@sha256:<digest> or repo:<tag> (not latest)"
            )
        return value


_ENV = {
    "namespace": "TCPLAB_KUBE_NAMESPACE",
    "kubeconfig": "TCPLAB_KUBE_KUBECONFIG",
    "image": "TCPLAB_KUBE_IMAGE",
    "service_account": "TCPLAB_KUBE_SERVICE_ACCOUNT",
    "runs_claim": "TCPLAB_KUBE_RUNS_CLAIM",
    "data_mount": "TCPLAB_KUBE_DATA_MOUNT",
    "pod_runs_dir": "TCPLAB_KUBE_POD_RUNS_DIR",
    "max_groups": "TCPLAB_KUBE_MAX_GROUPS",
    "backoff_limit": "TCPLAB_KUBE_BACKOFF_LIMIT",
    "deadline_seconds": "TCPLAB_KUBE_DEADLINE_SECONDS",
    "ttl_seconds": "TCPLAB_KUBE_TTL_SECONDS",
    "max_cpu": "TCPLAB_KUBE_MAX_CPU",
    "max_memory_mib": "TCPLAB_KUBE_MAX_MEMORY_MIB",
    "image_pull_grace_seconds": "TCPLAB_KUBE_IMAGE_PULL_GRACE_SECONDS",
    "watch_timeout_seconds": "TCPLAB_KUBE_WATCH_TIMEOUT_SECONDS",
}


def load_kube_settings(**overrides: object) -> KubeSettings:
    """Settings from the environment (``overrides`` win).

    Raises:
        ConfigError: a missing image, an unpinned image, a bad value (the variable is named).
    """
    values: dict[str, object] = {k: os.environ[v] for k, v in _ENV.items() if os.environ.get(v)}
    values |= {k: v for k, v in overrides.items() if v is not None}
    if "image" not in values:
        raise ConfigError("TCPLAB_KUBE_IMAGE is not set: the experiment image (repo@sha256:...)")
    try:
        return KubeSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else ""
        raise ConfigError(f"{_ENV.get(field, field)}: {first['msg']}") from exc
