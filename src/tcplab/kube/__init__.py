"""tcplab on Kubernetes: the platform's manifests and ``tcplab deploy`` (plan, apply, verify,
destroy) through kubectl, with prerequisite checks and a smoke test; and the service's
``kubernetes`` backend (experiments as Indexed Jobs and KubeRay RayJobs, watched through the
watch API, reconciled on start) with the pod-side shard-group runner (``tcplab kube
run-group``). docs/kubernetes.md describes both. Importing this package imports neither
lightkube nor kubectl: a missing one names ``pip install 'tcplab[kube]'``."""

from __future__ import annotations

from tcplab.kube._backend import KubeJobFailedError, KubernetesBackend, rayjob_resource
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
from tcplab.kube._client import KubernetesError, make_client
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
from tcplab.kube._failure import KubeFailure, PodLog, record_failure
from tcplab.kube._group import read_task, run_group, shards_of_group
from tcplab.kube._jobs import (
    GroupTask,
    build_job,
    build_rayjob,
    k8s_name,
    placement,
    task_configmap,
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
from tcplab.kube._reconcile import ReconcileAction, plan_reconcile, reconcile_on_start
from tcplab.kube._settings import KubeSettings, load_kube_settings
from tcplab.kube._watch import FAILURE_KINDS, ResourceWatch, Verdict, classify

__all__ = [
    "CRD_OF_KIND",
    "FAILURE_KINDS",
    "FIELD_MANAGER",
    "SMOKE_SPEC",
    "SUPPORTED_VERSIONS",
    "CheckResult",
    "DeployError",
    "GroupTask",
    "KubeFailure",
    "KubeJobFailedError",
    "KubeSettings",
    "Kubectl",
    "KubernetesBackend",
    "KubernetesError",
    "Plan",
    "PodLog",
    "ReconcileAction",
    "Rendered",
    "ResourceWatch",
    "Verdict",
    "apply_overlay",
    "build_job",
    "build_rayjob",
    "check_context",
    "check_crds",
    "check_metrics_adapter",
    "check_server_version",
    "check_storage_classes",
    "classify",
    "destroy_overlay",
    "find_kubectl",
    "k8s_name",
    "list_overlays",
    "load_kube_settings",
    "make_client",
    "manifests_root",
    "placement",
    "plan_overlay",
    "plan_reconcile",
    "rayjob_resource",
    "read_task",
    "reconcile_on_start",
    "record_failure",
    "render_overlay",
    "run_group",
    "run_prerequisites",
    "shards_of_group",
    "shipped_crds",
    "smoke",
    "task_configmap",
    "wait_rollouts",
]
