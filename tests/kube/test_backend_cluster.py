"""The ``kubernetes`` backend end to end against the REAL control plane (apiserver with RBAC,
Job controller, garbage collector), with a real `tcplab serve` + `tcplab worker --backend
kubernetes` on PostgreSQL. The worker authenticates with a ``tcplab-api`` service-account
token bound to the manifests' Role (deploy/kubernetes/base/rbac.yaml): any call the Role does
not allow fails the job, and so the test.

No kubelet runs: the fixture kubelet (conftest.py) binds the pods and sets their status; for
the success path it RUNS each pod's command (``tcplab kube run-group``) as a local subprocess
on the shared runs directory, so the trials the service reports were really written by the
pods' command. Images are never pulled.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ..service.conftest import Stack, fake_spec, pg_schema, wait_for
from .conftest import (
    ControlPlane,
    FixtureKubelet,
    PodOutcome,
    backend_access,
    backend_env,
)

NS = "tcplab-backend"


@dataclass
class Env:
    cp: ControlPlane
    stack: Stack
    kubelet: FixtureKubelet
    admin: Any
    token: str
    env: dict[str, str]
    workers: list[Any]

    def start_worker(self) -> Any:
        n = len(self.workers)
        args = ["worker", "--backend", "kubernetes", "--concurrency", "4"]
        args += ["--hardware", "gpu"]
        w = self.stack._spawn(args, f"worker-k{n}.log", **self.env)
        self.workers.append(w)
        return w

    def submit(self, name: str, **body: Any) -> str:
        spec = body.pop("spec", None) or fake_spec(name, n_tools=6, shard_size=2)
        with self.stack.client(self.token) as c:
            r = c.post("/jobs", json={"spec": spec, "backend": "kubernetes", **body})
            assert r.status_code in (200, 201, 202), r.text
            return str(r.json()["id"])

    def k8s_job(self, job_id: str) -> Any:
        from lightkube.resources.batch_v1 import Job

        from tcplab.kube import k8s_name

        try:
            return self.admin.get(Job, k8s_name(job_id), namespace=NS)
        except Exception:
            return None

    def logs(self) -> str:
        return "\n".join(self.stack.log(f"worker-k{i}.log") for i in range(len(self.workers)))


def _decide(pod: Any) -> PodOutcome:
    """By the job's name (its spec name is in the run id label)."""
    run = (pod.metadata.labels or {}).get("tcplab.dev/run-id", "")
    if "-oom-" in run:
        return PodOutcome("Failed", 137, "OOMKilled", "memory limit")
    if "-exit1-" in run:
        return PodOutcome("Failed", 1, "Error", "boom")
    if "-evict-" in run:
        return PodOutcome("Failed", 0, "", "node pressure", pod_reason="Evicted")
    if "-pull-" in run:
        return PodOutcome("Pending", 0, "ErrImagePull", "registry.invalid: no such host")
    if "-hold-" in run or "-deadline-" in run:
        return PodOutcome("Running")
    return PodOutcome(run=True)


@pytest.fixture(scope="module")
def env(control_plane: ControlPlane, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import Namespace

    admin = control_plane.client()
    admin.create(Namespace(metadata=ObjectMeta(name=NS)))
    tmp = tmp_path_factory.mktemp("kube-backend")
    kubeconfig = backend_access(control_plane, NS, tmp / "kubeconfig-tcplab-api")
    with pg_schema() as url:
        stack = Stack(url, tmp / "home")
        stack.home.mkdir()
        kubelet = FixtureKubelet(control_plane, NS, decide=_decide, runs_host=stack.home)
        kubelet.start(tmp / "kubelet")
        e = Env(control_plane, stack, kubelet, admin, "", {}, [])
        e.env = backend_env(kubeconfig, NS, TCPLAB_KUBE_BACKOFF_LIMIT="1")
        e.env["TCPLAB_KUBE_DATA_MOUNT"] = "/var/lib/tcplab"
        try:
            stack.serve()
            e.token = stack.token("alice", "submitter")
            e.start_worker()
            yield e
        finally:
            kubelet.stop()
            stack.close()
            admin.delete(Namespace, NS)


def test_submit_runs_an_indexed_job_and_every_trial_is_there(env: Env) -> None:
    job_id = env.submit("ok", priority=8, constraints={"hardware": "gpu", "low_latency": True})
    kjob = wait_for("the Kubernetes Job", lambda: env.k8s_job(job_id), timeout=60)
    spec = kjob.spec
    assert (spec.completionMode, spec.completions, spec.parallelism) == ("Indexed", 3, 3)
    pod = spec.template.spec
    c = pod.containers[0]
    assert pod.priorityClassName == "tcplab-high"
    assert pod.nodeSelector == {"tcplab.dev/hardware": "gpu"}
    assert {t.key for t in pod.tolerations} == {"nvidia.com/gpu", "tcplab.dev/node-class"}
    assert pod.securityContext.runAsNonRoot and c.securityContext.readOnlyRootFilesystem
    assert c.resources.requests["nvidia.com/gpu"] == "1" and c.resources.limits["memory"]
    assert c.image.startswith("registry.invalid/tcplab@sha256:")
    assert kjob.metadata.labels["tcplab.dev/owner"] == "alice"
    job = env.stack.wait_state(job_id, ("succeeded", "failed"), timeout=180)
    assert job.state == "succeeded", (job.reason, env.logs()[-3000:])
    assert job.run_id and job.progress is not None
    with env.stack.client(env.token) as cl:
        run = cl.get(f"/runs/{job.run_id}").json()
    assert run["n_trials"] == 12 and sum(run["trials_by_arm"].values()) == 12, run
    assert run["shards_done"] == run["n_shards"] == 6
    pods = [name for name, code in env.kubelet.ran if name.startswith(f"tcplab-{job_id}")]
    assert len(pods) == 3 and all(code == 0 for _, code in env.kubelet.ran if _ in pods)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("oom", "oom_killed"),
        ("exit1", "backoff_exhausted"),
        ("evict", "evicted"),
        ("pull", "image_pull"),
    ],
)
def test_failures_end_with_their_reason(env: Env, name: str, kind: str) -> None:
    job_id = env.submit(name)
    job = env.stack.wait_state(job_id, ("succeeded", "failed"), timeout=120)
    assert job.state == "failed", job
    assert f"KubeJobFailedError: {kind}:" in (job.reason or ""), (job.reason, env.logs()[-2000:])
    failure = Path(job.run_dir or "") / "kube" / "failure.json"
    doc = wait_for("failure.json", lambda: failure.is_file() and failure.read_text(), timeout=10)
    assert f'"kind": "{kind}"' in doc
    if kind != "image_pull":  # no kubelet: the API cannot serve logs, and says so
        assert '"error": "reading the log of pod' in doc
        with env.stack.client(env.token) as c:  # ... also in the job's own logs
            lines = [x["message"] for x in c.get(f"/jobs/{job_id}/logs").json()["lines"]]
        assert any(m.startswith("log of pod tcplab-") and "unavailable" in m for m in lines)
    else:  # the Job itself does not fail on a pull error: the backend deletes it
        wait_for("the Job to be deleted", lambda: env.k8s_job(job_id) is None, timeout=60)


def test_deadline_exceeded(env: Env) -> None:
    job_id = env.submit("deadline", spec=fake_spec("deadline", limits={"max_duration": 3}))
    job = env.stack.wait_state(job_id, ("succeeded", "failed"), timeout=120)
    assert job.state == "failed"
    assert "deadline_exceeded: Job tcplab-" in (job.reason or ""), job.reason
    assert env.k8s_job(job_id).spec.activeDeadlineSeconds == 3


def test_cancel_deletes_the_job_with_its_pods(env: Env) -> None:
    from lightkube.resources.core_v1 import ConfigMap, Pod

    from tcplab.kube import k8s_name

    job_id = env.submit("hold")
    wait_for("pods running", lambda: len(_held(env, job_id)) >= 3, timeout=60)
    with env.stack.client(env.token) as c:
        assert c.post(f"/jobs/{job_id}/cancel").status_code in (200, 202)
    job = env.stack.wait_state(job_id, ("cancelled", "failed", "succeeded"), timeout=60)
    assert job.state == "cancelled", job.reason
    wait_for("the Job to be gone", lambda: env.k8s_job(job_id) is None, timeout=60)
    name = k8s_name(job_id)
    sel = {"batch.kubernetes.io/job-name": name}
    wait_for(
        "its pods and ConfigMap to be gone",
        lambda: (
            not list(env.admin.list(Pod, namespace=NS, labels=sel))
            and name not in [cm.metadata.name for cm in env.admin.list(ConfigMap, namespace=NS)]
        ),
        timeout=60,
    )


def test_restart_mid_job_adopts_the_job_and_completes_once(env: Env) -> None:
    from lightkube import codecs

    job_id = env.submit("hold2", spec=fake_spec("hold-again", n_tools=6, shard_size=2))
    kjob = wait_for("the Kubernetes Job", lambda: env.k8s_job(job_id), timeout=60)
    wait_for("its pods running", lambda: len(_held(env, job_id)) >= 3, timeout=60)
    orphan = codecs.from_dict(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": "tcplab-orphan",
                "labels": {"app.kubernetes.io/managed-by": "tcplab", "tcplab.dev/job-id": "job-x"},
            },
            "spec": {
                "suspend": True,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "registry.invalid/x:1"}],
                    }
                },
            },
        }
    )
    env.admin.create(orphan, namespace=NS)
    for w in list(env.workers):
        if w.poll() is None:
            w.send_signal(signal.SIGKILL)
            w.wait(timeout=30)
    env.start_worker()  # reconciles (orphan deleted), then the lease keeper re-queues the job
    wait_for(
        "the orphan Job to be deleted by reconciliation",
        lambda: "tcplab-orphan" not in [j.metadata.name for j in _jobs(env)],
        timeout=60,
    )
    wait_for("the job to be adopted", lambda: "adopted existing Job" in env.logs(), timeout=90)
    env.kubelet.release(lambda pod: PodOutcome(run=True))
    job = env.stack.wait_state(job_id, ("succeeded", "failed"), timeout=180)
    assert job.state == "succeeded", (job.reason, env.logs()[-3000:])
    assert env.k8s_job(job_id).metadata.uid == kjob.metadata.uid  # the same Job, never a 2nd
    with env.stack.client(env.token) as cl:
        run = cl.get(f"/runs/{job.run_id}").json()
    assert run["n_trials"] == 12 and run["shards_done"] == 6
    ran = [n for n, _ in env.kubelet.ran if n.startswith(f"tcplab-{job_id}")]
    assert len(ran) == 3, ran  # each completion index ran once


def test_ray_experiments_run_as_a_rayjob(env: Env) -> None:
    """Validated server-side against the shipped CRD; the test plays the KubeRay operator
    (none runs here) and reports the Ray job failed: the service job fails with the reason."""
    crd = Path(__file__).parents[2] / "deploy/kubernetes/crds/rayjob.yaml"
    assert env.cp.kubectl("apply", "-f", str(crd)).returncode == 0
    wait_for(
        "the RayJob CRD to be served",
        lambda: env.cp.kubectl("get", "rayjobs", "-n", NS).returncode == 0,
        timeout=60,
    )
    spec = fake_spec("ray", executor={"kind": "ray", "workers": 2})
    job_id = env.submit("ray", spec=spec)
    from tcplab.kube import k8s_name

    name = k8s_name(job_id)
    got = wait_for(
        "the RayJob",
        lambda: (
            (d := env.cp.kubectl("get", "rayjob", name, "-n", NS, "-o", "json")).returncode == 0
            and json.loads(d.stdout)
        ),
        timeout=60,
    )
    assert got["spec"]["entrypoint"] == "tcplab kube run-group --task /etc/tcplab/task/task.json"
    workers = got["spec"]["rayClusterSpec"]["workerGroupSpecs"][0]
    assert workers["maxReplicas"] == 2 and got["metadata"]["labels"]["tcplab.dev/job-id"] == job_id
    status = {"status": {"jobDeploymentStatus": "Failed", "jobStatus": "FAILED",
                         "reason": "AppFailed", "message": "entrypoint exited 1"}}  # fmt: skip
    patched = env.cp.kubectl(
        "patch", "rayjob", name, "-n", NS, "--subresource=status", "--type=merge",
        "-p", json.dumps(status),
    )  # fmt: skip
    assert patched.returncode == 0, patched.stderr
    job = env.stack.wait_state(job_id, ("succeeded", "failed"), timeout=60)
    assert "KubeJobFailedError: backoff_exhausted: RayJob" in (job.reason or ""), job.reason


def _held(env: Env, job_id: str) -> list[str]:
    from tcplab.kube import k8s_name

    return [n for n in list(env.kubelet.running) if n.startswith(k8s_name(job_id) + "-")]


def _jobs(env: Env) -> list[Any]:
    from lightkube.resources.batch_v1 import Job

    return list(env.admin.list(Job, namespace=NS))


def test_the_backend_role_allows_nothing_else(env: Env) -> None:
    """The token the worker uses cannot read secrets nor create Jobs elsewhere."""
    kubeconfig = env.env["TCPLAB_KUBE_KUBECONFIG"]
    for args in (
        ["auth", "can-i", "list", "secrets", "-n", NS],
        ["auth", "can-i", "create", "jobs", "-n", "default"],
        ["auth", "can-i", "create", "deployments", "-n", NS],
        ["auth", "can-i", "patch", "jobs", "-n", NS],
    ):
        done = env.cp.kubectl("--kubeconfig", kubeconfig, *args)
        assert done.stdout.strip() == "no", (args, done.stdout, done.stderr)
    for args in (["create", "jobs"], ["watch", "pods"], ["get", "pods/log"], ["delete", "jobs"]):
        done = env.cp.kubectl("--kubeconfig", kubeconfig, "auth", "can-i", *args, "-n", NS)
        assert done.stdout.strip() == "yes", (args, done.stdout, done.stderr)
