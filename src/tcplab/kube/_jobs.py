"""Builders: a service job → the Kubernetes objects that run it (plain manifests, validated by
the API server on create).

* :func:`task_configmap`: the spec and the run's coordinates, passed by reference (mounted at
  ``/etc/tcplab/task``); never on the command line.
* :func:`build_job`: an Indexed ``batch/v1`` Job, one completion index per shard group.
* :func:`build_rayjob`: a KubeRay ``RayJob`` for specs whose executor is ``ray``.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tcplab.experiment import ExperimentSpec
from tcplab.kube._settings import KubeSettings
from tcplab.service import JobRecord

__all__ = [
    "GROUP_COMMAND",
    "LABEL_JOB",
    "LABEL_MANAGED",
    "LABEL_OWNER",
    "MANAGED_BY",
    "TASK_MOUNT",
    "GroupTask",
    "build_job",
    "build_rayjob",
    "k8s_name",
    "pod_resources",
    "task_configmap",
]

MANAGED_BY = "tcplab"
LABEL_MANAGED = "app.kubernetes.io/managed-by"
LABEL_JOB = "tcplab.dev/job-id"
LABEL_OWNER = "tcplab.dev/owner"
LABEL_RUN = "tcplab.dev/run-id"
TASK_MOUNT = "/etc/tcplab/task"
GROUP_COMMAND = ["tcplab", "kube", "run-group", "--task", f"{TASK_MOUNT}/task.json"]
HARDWARE_LABEL = "tcplab.dev/hardware"
NODE_CLASS_LABEL = "tcplab.dev/node-class"
REGION_LABEL = "topology.kubernetes.io/region"
DEVICE_RESOURCE = {"gpu": "nvidia.com/gpu", "fpga": "xilinx.com/fpga"}
_RUN_AS = 10001


class GroupTask(BaseModel):
    """What a pod of the Job reads (``task.json`` in the task ConfigMap)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    job_id: str
    run_id: str
    run_path: str = Field(description="the run directory, relative to the service's runs dir")
    groups: int = Field(ge=1)
    spec: dict[str, Any]
    spec_hash: str


def k8s_name(job_id: str) -> str:
    """The Kubernetes name of a job's Job/RayJob/ConfigMap (deterministic: one per job)."""
    return ("tcplab-" + re.sub(r"[^a-z0-9-]", "-", job_id.lower()))[:52].rstrip("-")


def _label_value(value: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", value)[:63].strip("_.-") or "unknown"


def labels(job: JobRecord) -> dict[str, str]:
    """Labels on every object of a job (what reconciliation finds it by)."""
    out = {LABEL_MANAGED: MANAGED_BY, LABEL_JOB: _label_value(job.id)}
    out[LABEL_OWNER] = _label_value(job.submitted_by)
    if job.run_id:
        out[LABEL_RUN] = _label_value(job.run_id)
    return out


def task_configmap(job: JobRecord, task: GroupTask, owner: dict[str, Any] | None) -> dict[str, Any]:
    """The ConfigMap holding ``task.json``; owned by the Job so it goes with it."""
    meta: dict[str, Any] = {"name": k8s_name(job.id), "labels": labels(job)}
    if owner is not None:
        meta["ownerReferences"] = [owner]
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {"task.json": task.model_dump_json()},
    }


def pod_resources(job: JobRecord, s: KubeSettings) -> dict[str, Any]:
    """Requests from the job's plan (docs/service.md), bounded by the settings' maxima."""
    r = job.resources
    cpu = min(r.cpu, s.max_cpu)
    memory = min(r.memory_mib, s.max_memory_mib)
    requests: dict[str, str] = {"cpu": f"{int(cpu * 1000)}m", "memory": f"{memory}Mi"}
    limits: dict[str, str] = {"memory": f"{memory}Mi"}
    for kind, count in (("gpu", r.gpu), ("fpga", r.fpga)):
        if count:
            requests[DEVICE_RESOURCE[kind]] = limits[DEVICE_RESOURCE[kind]] = str(count)
    return {"requests": requests, "limits": limits}


def placement(job: JobRecord) -> dict[str, Any]:
    """nodeSelector, tolerations and affinity from the job's constraints."""
    c = job.constraints
    selector: dict[str, str] = {}
    tolerations: list[dict[str, str]] = []
    if c.hardware:
        selector[HARDWARE_LABEL] = c.hardware
        key = DEVICE_RESOURCE[c.hardware]
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoSchedule"})
    if c.region:
        selector[REGION_LABEL] = c.region
    out: dict[str, Any] = {"nodeSelector": selector, "tolerations": tolerations}
    if c.low_latency:
        term = {"key": NODE_CLASS_LABEL, "operator": "In", "values": ["low-latency"]}
        out["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [term]}]
                }
            }
        }
        out["tolerations"].append(
            {
                "key": NODE_CLASS_LABEL,
                "operator": "Equal",
                "value": "low-latency",
                "effect": "NoSchedule",
            }
        )
    return out


def pod_spec(job: JobRecord, s: KubeSettings, command: list[str]) -> dict[str, Any]:
    """The experiment pod: non-root, read-only root, no token, task + runs volumes."""
    container = {
        "name": "experiment",
        "image": s.image,
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "env": [
            {"name": "TCPLAB_HOME", "value": s.data_mount},
            {"name": "TCPLAB_SERVICE_RUNS_DIR", "value": s.pod_runs_dir},
        ],
        "resources": pod_resources(job, s),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "task", "mountPath": TASK_MOUNT, "readOnly": True},
            {"name": "data", "mountPath": s.data_mount},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    }
    return {
        "restartPolicy": "Never",
        "serviceAccountName": s.service_account,
        "automountServiceAccountToken": False,
        "priorityClassName": f"tcplab-{job.priority_class}",
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": _RUN_AS,
            "runAsGroup": _RUN_AS,
            "fsGroup": _RUN_AS,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": [
            {"name": "task", "configMap": {"name": k8s_name(job.id)}},
            {"name": "data", "persistentVolumeClaim": {"claimName": s.runs_claim}},
            {"name": "tmp", "emptyDir": {"sizeLimit": "1Gi"}},
        ],
        **placement(job),
    }


def deadline_seconds(job: JobRecord, s: KubeSettings) -> int:
    """activeDeadlineSeconds: the spec's ``limits.max_duration`` when set, capped by
    ``TCPLAB_KUBE_DEADLINE_SECONDS``."""
    try:
        spec_limit = ExperimentSpec.model_validate(job.spec).limits.max_duration
    except ValueError:  # a stored spec that no longer validates: the settings' deadline
        spec_limit = None
    if spec_limit is None:
        return s.deadline_seconds
    return max(1, min(s.deadline_seconds, math.ceil(spec_limit)))


def build_job(job: JobRecord, s: KubeSettings, groups: int) -> dict[str, Any]:
    """The Indexed Job: ``groups`` completion indexes, all allowed to run at once."""
    meta = {"name": k8s_name(job.id), "labels": labels(job)}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "completionMode": "Indexed",
            "completions": groups,
            "parallelism": groups,
            "backoffLimit": s.backoff_limit,
            "activeDeadlineSeconds": deadline_seconds(job, s),
            "ttlSecondsAfterFinished": s.ttl_seconds,
            "template": {
                "metadata": {"labels": labels(job)},
                "spec": pod_spec(job, s, GROUP_COMMAND),
            },
        },
    }


def build_rayjob(job: JobRecord, s: KubeSettings) -> dict[str, Any]:
    """A KubeRay RayJob: a Ray cluster for the job; its entrypoint runs every shard (one
    group) with the spec's ray executor against that cluster, reading the same task file."""
    head = pod_spec(job, s, ["ray", "start", "--head", "--block", "--dashboard-host=0.0.0.0"])
    head["restartPolicy"] = "Always"
    worker = pod_spec(job, s, ["ray", "start", "--block", "--address=$(RAY_HEAD_ADDRESS)"])
    worker["restartPolicy"] = "Always"
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayJob",
        "metadata": {"name": k8s_name(job.id), "labels": labels(job)},
        "spec": {
            "entrypoint": " ".join(GROUP_COMMAND),
            "shutdownAfterJobFinishes": True,
            "ttlSecondsAfterFinished": s.ttl_seconds,
            "activeDeadlineSeconds": deadline_seconds(job, s),
            "backoffLimit": s.backoff_limit,
            "rayClusterSpec": {
                "headGroupSpec": {"rayStartParams": {}, "template": {"spec": head}},
                "workerGroupSpecs": [
                    {
                        "groupName": "workers",
                        "replicas": 1,
                        "minReplicas": 1,
                        "maxReplicas": max(1, int(job.spec.get("executor", {}).get("workers", 1))),
                        "rayStartParams": {},
                        "template": {"spec": worker},
                    }
                ],
            },
        },
    }
