"""The ``kubernetes`` backend of the service: a claimed job runs as an Indexed Job (or a
RayJob), the worker thread watches it and finishes the run when it completes.

execute: prepare the run (or find it) → create the Job and its task ConfigMap, or adopt the
ones that already exist (same deterministic name: a restarted service never starts a second
Job) → watch → succeeded: the driver adopts the shards the pods wrote and finishes the run;
failed: the reason (image pull, OOMKilled, deadline, evicted, backoff) and the failed pods'
logs are recorded with the job; cancelled: the Job is deleted with foreground propagation.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tcplab.errors import ExecutionFailedError, RunError
from tcplab.experiment import (
    ExperimentSpec,
    InlineExecutor,
    Progress,
    RunDir,
    RunOutcome,
    completed_shards,
    run_experiment,
)
from tcplab.kube._client import KubernetesError, api_errors, make_client
from tcplab.kube._failure import record_failure
from tcplab.kube._jobs import GroupTask, build_job, build_rayjob, k8s_name, task_configmap
from tcplab.kube._reconcile import reconcile_on_start
from tcplab.kube._settings import KubeSettings, load_kube_settings
from tcplab.kube._watch import ResourceWatch, Verdict, classify
from tcplab.service import JobRecord
from tcplab.service.backends import Backend, Execution

__all__ = ["JOB_NAME_LABEL", "KubeJobFailedError", "KubernetesBackend", "rayjob_resource"]

log = logging.getLogger("tcplab.kube")

JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


class KubeJobFailedError(ExecutionFailedError):
    """A job's Kubernetes Job (or RayJob) failed; ``kind`` is one of ``FAILURE_KINDS``."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(f"{kind}: {reason}")
        self.kind = kind


def rayjob_resource() -> Any:
    """The lightkube resource class of KubeRay's ``RayJob`` (ray.io/v1)."""
    from lightkube.generic_resource import create_namespaced_resource

    return create_namespaced_resource("ray.io", "v1", "RayJob", "rayjobs")


def _progress(run_dir: Path) -> Progress:
    rd = RunDir(run_dir)
    record = rd.read_record()
    plan = rd.read_plan(record)
    done = completed_shards(run_dir)
    p = Progress(total_by_arm=plan.trials_per_arm(), shards_total=plan.n_shards)
    p.shards_done = len(done)
    for s in done:
        r = plan.shard_range(s)
        for a in plan.arm_idx[r.start : r.stop].tolist():
            p.done_by_arm[plan.arms[a]] = p.done_by_arm.get(plan.arms[a], 0) + 1
    return p


class KubernetesBackend(Backend):
    """One Kubernetes Job (Indexed, a completion index per shard group) per service job."""

    name = "kubernetes"

    def __init__(self, settings: KubeSettings | None = None) -> None:
        self._settings = settings

    @property
    def settings(self) -> KubeSettings:
        if self._settings is None:
            self._settings = load_kube_settings()
        return self._settings

    def check(self) -> None:
        """Settings valid, API reachable; then reconcile the cluster with the service."""
        client, namespace = make_client(self.settings)
        try:
            reconcile_on_start(client, namespace)
        finally:
            client.close()

    def execute(self, job: JobRecord, ex: Execution) -> RunOutcome:
        client, namespace = make_client(self.settings)
        try:
            return self._execute(client, namespace, job, ex)
        finally:
            client.close()

    def _execute(self, client: Any, namespace: str, job: JobRecord, ex: Execution) -> RunOutcome:
        s = self.settings
        run_dir = self.prepare(job, ex)
        rd = RunDir(run_dir)
        record = rd.read_record()
        job = job.model_copy(update={"run_id": record.run_id})  # labels carry the run id
        ray = ExperimentSpec.model_validate(job.spec).executor.kind == "ray"
        if len(completed_shards(run_dir)) < record.n_shards:
            groups = 1 if ray else max(1, min(record.n_shards, s.max_groups))
            task = GroupTask(
                job_id=job.id,
                run_id=record.run_id,
                run_path=str(run_dir.resolve().relative_to(ex.runs_dir.resolve())),
                groups=groups,
                spec=record.spec,
                spec_hash=record.spec_hash,
            )
            verdict = self._run_in_cluster(client, namespace, job, task, ray, ex, run_dir)
            if verdict.state == "cancelled":
                return RunOutcome(record.run_id, run_dir, "cancelled", record.n_trials, 0)
            if verdict.state != "succeeded":
                kind = verdict.kind or "failed"
                record_failure(
                    client, namespace, run_dir, kind, verdict.reason, verdict.failed_pods
                )
                raise KubeJobFailedError(kind, verdict.reason)
        missing = sorted(set(range(record.n_shards)) - completed_shards(run_dir))
        if missing:
            raise RunError(f"the Kubernetes Job completed but shards {missing[:10]} are missing")
        return run_experiment(
            run_dir,
            executor=InlineExecutor(),  # nothing is pending: every shard is adopted
            on_shard=lambda progress, _result: ex.on_shard(progress),
            db=ex.database_url,
            should_stop=ex.should_stop,
        )

    def _run_in_cluster(
        self,
        client: Any,
        namespace: str,
        job: JobRecord,
        task: GroupTask,
        ray: bool,
        ex: Execution,
        run_dir: Path,
    ) -> Verdict:
        from lightkube.resources.batch_v1 import Job

        res = rayjob_resource() if ray else Job
        manifest = (
            build_rayjob(job, self.settings) if ray else build_job(job, self.settings, task.groups)
        )
        owner = _create_or_adopt(client, namespace, res, manifest, job.id)
        _create_task(client, namespace, job, task, owner)
        name = manifest["metadata"]["name"]
        verdict = self._follow(client, namespace, res, name, ex, run_dir, ray)
        if verdict.state == "cancelled" or verdict.kind == "image_pull":
            _delete(client, namespace, res, name)
        return verdict

    def _follow(
        self,
        client: Any,
        namespace: str,
        res: Any,
        name: str,
        ex: Execution,
        run_dir: Path,
        ray: bool,
    ) -> Verdict:
        """Watch the Job and its pods until a verdict (or a cancel)."""
        from lightkube.resources.core_v1 import Pod

        s = self.settings
        events: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        fields = {"metadata.name": name}
        watches = [
            ResourceWatch(
                client, res, namespace, events, fields=fields, timeout=s.watch_timeout_seconds
            )
        ]
        if not ray:
            labels = {JOB_NAME_LABEL: name}
            watches.append(
                ResourceWatch(
                    client, Pod, namespace, events, labels=labels, timeout=s.watch_timeout_seconds
                )
            )
        for w in watches:
            w.start()
        state = _Followed()
        try:
            while True:
                try:
                    kind, etype, obj = events.get(timeout=1.0)
                except queue.Empty:
                    pass
                else:
                    gone = state.apply(kind, etype, obj, res.__name__)
                    if gone is not None:
                        return gone
                    if state.new_success:
                        ex.on_shard(_progress(run_dir))
                verdict = (
                    _rayjob_verdict(state.job)
                    if ray
                    else classify(
                        state.job, state.pods, state.pull_seen, s.image_pull_grace_seconds
                    )
                )
                if verdict is not None:
                    return verdict
                stop = state.should_stop(ex.should_stop)
                if stop:
                    return Verdict("cancelled", None, stop)
        finally:
            for w in watches:
                w.stop()


class _Followed:
    """The latest Job and pods seen by the watches."""

    def __init__(self) -> None:
        self.job: Any = None
        self.pods: dict[str, Any] = {}
        self.pull_seen: dict[str, float] = {}
        self.succeeded: set[str] = set()
        self.new_success = False
        self._next_stop_check = 0.0

    def apply(self, kind: str, etype: str, obj: Any, job_kind: str) -> Verdict | None:
        self.new_success = False
        name = obj.metadata.name
        if kind == job_kind:
            if etype == "DELETED":
                return Verdict("failed", "deleted", f"{job_kind} {name} was deleted outside tcplab")
            self.job = obj
            return None
        if etype == "DELETED":
            self.pods.pop(name, None)
            return None
        self.pods[name] = obj
        if (
            obj.status is not None
            and obj.status.phase == "Succeeded"
            and name not in self.succeeded
        ):
            self.succeeded.add(name)
            self.new_success = True
        return None

    def should_stop(self, check: Callable[[], str | None]) -> str | None:
        now = time.monotonic()
        if now < self._next_stop_check:
            return None
        self._next_stop_check = now + 1.0
        return check()


def _rayjob_verdict(obj: Any) -> Verdict | None:
    status = (
        (obj or {}).get("status") or {}
        if isinstance(obj, dict)
        else getattr(obj, "status", None) or {}
    )
    deployment = status.get("jobDeploymentStatus")
    job_status = status.get("jobStatus")
    name = obj.metadata.name if obj is not None else "?"
    if deployment == "Complete" and job_status == "SUCCEEDED":
        return Verdict("succeeded")
    if deployment in ("Complete", "Failed") or job_status in ("FAILED", "STOPPED"):
        why = status.get("reason") or job_status or deployment
        kind = (
            "deadline_exceeded"
            if why == "DeadlineExceeded"
            else "backoff_exhausted"
            if why == "AppFailed"
            else "failed"
        )
        return Verdict(
            "failed", kind, f"RayJob {name}: {why}: {status.get('message') or ''}".strip()
        )
    return None


def _create_or_adopt(
    client: Any, namespace: str, res: Any, manifest: dict[str, Any], job_id: str
) -> dict[str, Any]:
    """Create the Job, or adopt the one this job already has; its owner reference."""
    from lightkube import codecs

    name = manifest["metadata"]["name"]
    obj = codecs.from_dict(manifest)
    try:
        with api_errors(f"creating {manifest['kind']} {name}"):
            created = client.create(obj, namespace=namespace)
        log.info("job %s: created %s %s/%s", job_id, manifest["kind"], namespace, name)
    except KubernetesError as exc:
        if exc.status != 409:
            raise
        with api_errors(f"reading {manifest['kind']} {name}"):
            created = client.get(res, name, namespace=namespace)
        theirs = (created.metadata.labels or {}).get("tcplab.dev/job-id")
        if theirs != manifest["metadata"]["labels"]["tcplab.dev/job-id"]:
            raise KubernetesError(
                f"{manifest['kind']} {name} exists and belongs to job {theirs}"
            ) from exc
        log.info("job %s: adopted existing %s %s/%s", job_id, manifest["kind"], namespace, name)
    return {
        "apiVersion": manifest["apiVersion"],
        "kind": manifest["kind"],
        "name": name,
        "uid": created.metadata.uid,
    }


def _create_task(
    client: Any, namespace: str, job: JobRecord, task: GroupTask, owner: dict[str, Any]
) -> None:
    from lightkube import codecs

    cm = codecs.from_dict(task_configmap(job, task, owner))
    try:
        with api_errors(f"creating ConfigMap {k8s_name(job.id)}"):
            client.create(cm, namespace=namespace)
    except KubernetesError as exc:
        if exc.status != 409:  # an earlier execution created it: same content
            raise


def _delete(client: Any, namespace: str, res: Any, name: str) -> None:
    """Delete with foreground propagation (pods and the task ConfigMap go with it)."""
    from lightkube.types import CascadeType

    try:
        with api_errors(f"deleting {res.__name__} {name}"):
            client.delete(res, name, namespace=namespace, cascade=CascadeType.FOREGROUND)
        log.info("deleted %s %s/%s (foreground propagation)", res.__name__, namespace, name)
    except KubernetesError as exc:
        if exc.status != 404:
            raise
