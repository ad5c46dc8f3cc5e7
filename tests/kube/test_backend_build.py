"""The Kubernetes backend's pieces that need no API server: settings, the Job/RayJob
builders, the pod-side shard-group runner on a real run directory, the reconcile plan."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tcplab.errors import ConfigError, UsageError
from tcplab.experiment import ExperimentSpec, prepare_run, run_experiment
from tcplab.kube import (
    GroupTask,
    build_job,
    build_rayjob,
    k8s_name,
    load_kube_settings,
    plan_reconcile,
    run_group,
    shards_of_group,
)
from tcplab.service import Constraints, JobRecord, ResourceRequest

from ..service.conftest import fake_spec

DIGEST = "registry.example/tcplab@sha256:" + "a" * 64


def job_record(**over: Any) -> JobRecord:
    t = datetime.now(UTC)
    values: dict[str, Any] = dict(
        id="job-20261202090000-abcdef12",
        name="svc",
        spec=fake_spec(),
        spec_hash="x",
        priority=8,
        priority_class="high",
        resources=ResourceRequest(processes=1, cpu=40.0, memory_mib=200_000, gpu=1),
        constraints=Constraints(hardware="gpu", region="eu-west", low_latency=True),
        backend="kubernetes",
        queue="kubernetes",
        submitted_by="alice@example.com",
        state="running",
        created_at=t,
        updated_at=t,
        attempts=1,
        max_attempts=3,
        n_tools=10,
        n_trials=20,
        arms=["a", "b"],
    )
    values.update(over)
    return JobRecord(**values)


def test_image_must_be_pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    for bad in ("tcplab", "tcplab:latest", "reg:5000/tcplab", "reg/tcplab:latest"):
        with pytest.raises(ConfigError, match="TCPLAB_KUBE_IMAGE"):
            load_kube_settings(image=bad)
    assert load_kube_settings(image="reg:5000/tcplab:1.4.0").image == "reg:5000/tcplab:1.4.0"
    assert load_kube_settings(image=DIGEST).image == DIGEST
    with pytest.raises(ConfigError, match="TCPLAB_KUBE_IMAGE is not set"):
        load_kube_settings()
    monkeypatch.setenv("TCPLAB_KUBE_MAX_GROUPS", "0")
    with pytest.raises(ConfigError, match="TCPLAB_KUBE_MAX_GROUPS"):
        load_kube_settings(image=DIGEST)


def test_job_spec_from_the_plan_and_constraints() -> None:
    s = load_kube_settings(image=DIGEST, max_cpu=8, max_memory_mib=32_768, namespace="lab")
    job = job_record()
    m = build_job(job, s, groups=3)
    spec = m["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    assert (spec["backoffLimit"], spec["activeDeadlineSeconds"]) == (2, 86_400)
    assert spec["ttlSecondsAfterFinished"] == 3_600
    pod = spec["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"] == DIGEST
    assert "task.json" in " ".join(c["command"]) and "spec" not in " ".join(c["command"])
    # requests bounded by the settings' maxima; memory limit = request; the GPU asked for
    assert c["resources"]["requests"] == {
        "cpu": "8000m",
        "memory": "32768Mi",
        "nvidia.com/gpu": "1",
    }
    assert c["resources"]["limits"] == {"memory": "32768Mi", "nvidia.com/gpu": "1"}
    assert pod["nodeSelector"] == {
        "tcplab.dev/hardware": "gpu",
        "topology.kubernetes.io/region": "eu-west",
    }
    assert {t["key"] for t in pod["tolerations"]} == {"nvidia.com/gpu", "tcplab.dev/node-class"}
    assert pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert pod["priorityClassName"] == "tcplab-high"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "tcplab-experiment"
    labels = m["metadata"]["labels"]
    assert labels["tcplab.dev/job-id"] == job.id
    assert labels["tcplab.dev/owner"] == "alice_example.com"
    assert m["metadata"]["name"] == k8s_name(job.id) == "tcplab-job-20261202090000-abcdef12"


def test_rayjob_spec() -> None:
    s = load_kube_settings(image=DIGEST)
    m = build_rayjob(job_record(spec=fake_spec(executor={"kind": "ray", "workers": 3})), s)
    assert (m["apiVersion"], m["kind"]) == ("ray.io/v1", "RayJob")
    assert m["spec"]["entrypoint"].endswith("/etc/tcplab/task/task.json")
    assert m["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]["maxReplicas"] == 3


def test_shard_groups_partition_the_shards() -> None:
    groups = [shards_of_group(10, 3, i) for i in range(3)]
    assert sorted(s for g in groups for s in g) == list(range(10))
    with pytest.raises(UsageError):
        shards_of_group(10, 3, 3)


def test_groups_written_by_pods_are_adopted_by_the_driver(tmp_path: Path) -> None:
    """Three 'pods' (run_group calls) write the shards; the driver finishes the run with
    every trial, running nothing itself; a repeated group writes nothing twice."""
    spec = ExperimentSpec.model_validate(fake_spec(n_tools=9, shard_size=2))
    runs = tmp_path / "runs"
    run_dir, record, _plan = prepare_run(spec, tmp_path, runs)
    task = GroupTask(
        job_id="job-1",
        run_id=record.run_id,
        run_path=run_dir.name,
        groups=3,
        spec=record.spec,
        spec_hash=record.spec_hash,
    )
    written = [run_group(task, i, runs) for i in range(3)]
    assert sorted(s for w in written for s in w) == list(range(record.n_shards))
    assert run_group(task, 1, runs) == []  # a retried pod redoes nothing
    outcome = run_experiment(run_dir, use_store=False, sample_interval=0)
    assert (outcome.status, outcome.n_trials, outcome.shards_run) == ("completed", 18, 0)
    bad = task.model_copy(update={"spec_hash": "0" * 64})
    with pytest.raises(UsageError, match="does not match"):
        run_group(bad, 0, runs)


def test_reconcile_plan_adopts_live_jobs_and_deletes_the_rest() -> None:
    objs = [("Job", "a", "j1"), ("Job", "b", "j2"), ("Job", "c", "j3"), ("RayJob", "d", "j4")]
    states = {"j1": "running", "j2": "cancelled", "j3": None, "j4": "queued"}
    got = {a.name: a.action for a in plan_reconcile(objs, states)}
    assert got == {"a": "adopt", "b": "delete", "c": "delete", "d": "adopt"}


def test_without_lightkube_the_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from tcplab.errors import MissingDependencyError
    from tcplab.kube import make_client

    monkeypatch.setitem(sys.modules, "lightkube", None)  # as if not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'tcplab\[kube\]'"):
        make_client(load_kube_settings(image=DIGEST, namespace="lab"))
