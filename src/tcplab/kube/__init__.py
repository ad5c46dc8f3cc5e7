"""tcplab on Kubernetes: the platform's manifests and ``tcplab deploy`` (plan, apply, verify,
destroy) through kubectl, with prerequisite checks and a smoke test."""

from __future__ import annotations

from tcplab.kube._checks import (
    SUPPORTED_VERSIONS,
    CheckResult,
    check_context,
    check_crds,
    check_metrics_adapter,
    check_server_version,
    check_storage_classes,
    run_prerequisites,
)
from tcplab.kube._deploy import (
    FIELD_MANAGER,
    SMOKE_SPEC,
    Plan,
    apply_overlay,
    destroy_overlay,
    plan_overlay,
    smoke,
    wait_rollouts,
)
from tcplab.kube._manifests import (
    CRD_OF_KIND,
    DeployError,
    Kubectl,
    Rendered,
    find_kubectl,
    list_overlays,
    manifests_root,
    render_overlay,
    shipped_crds,
)

__all__ = [
    "CRD_OF_KIND",
    "FIELD_MANAGER",
    "SMOKE_SPEC",
    "SUPPORTED_VERSIONS",
    "CheckResult",
    "DeployError",
    "Kubectl",
    "Plan",
    "Rendered",
    "apply_overlay",
    "check_context",
    "check_crds",
    "check_metrics_adapter",
    "check_server_version",
    "check_storage_classes",
    "destroy_overlay",
    "find_kubectl",
    "list_overlays",
    "manifests_root",
    "plan_overlay",
    "render_overlay",
    "run_prerequisites",
    "shipped_crds",
    "smoke",
    "wait_rollouts",
]
