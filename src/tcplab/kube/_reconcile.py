"""Reconciliation when a worker of the ``kubernetes`` backend starts.

Every Job/RayJob tcplab created carries ``app.kubernetes.io/managed-by=tcplab`` and
``tcplab.dev/job-id``. For each one in the namespace:

* its service job is ``queued`` or ``running``: **adopt** — leave it; the job's next execution
  (the lease keeper re-queues a job whose worker died) finds the Job by its deterministic name
  and watches it instead of creating a second one;
* its service job is finished (succeeded, failed, cancelled) or unknown: **delete** it
  (foreground propagation), so nothing runs that no job will collect.

The decision is :func:`plan_reconcile` (pure); :func:`reconcile_on_start` applies it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tcplab.kube._client import KubernetesError, api_errors
from tcplab.kube._jobs import LABEL_JOB, LABEL_MANAGED, MANAGED_BY

__all__ = ["ReconcileAction", "plan_reconcile", "reconcile_on_start", "service_job_states"]

log = logging.getLogger("tcplab.kube")

LIVE_STATES = frozenset({"queued", "running"})


@dataclass(frozen=True)
class ReconcileAction:
    """What reconciliation does with one Kubernetes object."""

    kind: str
    name: str
    job_id: str
    action: str  # adopt | delete
    why: str


def plan_reconcile(
    objects: Iterable[tuple[str, str, str]], states: Mapping[str, str | None]
) -> list[ReconcileAction]:
    """``objects``: (kind, name, job id) of managed objects; ``states``: job id → state."""
    actions = []
    for kind, name, job_id in objects:
        state = states.get(job_id)
        if state in LIVE_STATES:
            actions.append(ReconcileAction(kind, name, job_id, "adopt", f"job is {state}"))
        elif state is None:
            actions.append(ReconcileAction(kind, name, job_id, "delete", "no such job"))
        else:
            actions.append(ReconcileAction(kind, name, job_id, "delete", f"job is {state}"))
    return actions


def service_job_states(job_ids: Iterable[str]) -> dict[str, str | None]:
    """The service database's state of each job (None: not there)."""
    import sqlalchemy as sa

    from tcplab.service import load_settings
    from tcplab.service.db import ServiceDB

    ids = sorted(set(job_ids))
    if not ids:
        return {}
    db = ServiceDB(load_settings().postgres_url(), pool_size=1)
    try:
        with db.begin() as conn:
            rows = conn.execute(
                sa.text("SELECT id, state FROM jobs WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": ids},
            ).all()
    finally:
        db.close()
    found = {str(r[0]): str(r[1]) for r in rows}
    return {i: found.get(i) for i in ids}


def _managed(client: Any, namespace: str, resources: list[Any]) -> list[tuple[Any, str, str]]:
    selector = {LABEL_MANAGED: MANAGED_BY}
    out = []
    for res in resources:
        try:
            with api_errors(f"listing {res.__name__}s"):
                items = list(client.list(res, namespace=namespace, labels=selector))
        except KubernetesError as exc:
            if exc.status == 404 and res.__name__ == "RayJob":  # no KubeRay CRD here
                continue
            raise
        for obj in items:
            job_id = (obj.metadata.labels or {}).get(LABEL_JOB)
            if job_id:
                out.append((res, obj.metadata.name, job_id))
    return out


def reconcile_on_start(
    client: Any,
    namespace: str,
    states: Callable[[Iterable[str]], Mapping[str, str | None]] = service_job_states,
) -> list[ReconcileAction]:
    """Adopt or delete every managed Job/RayJob of ``namespace`` (see the module doc)."""
    from lightkube.resources.batch_v1 import Job
    from lightkube.types import CascadeType

    from tcplab.kube._backend import rayjob_resource

    found = _managed(client, namespace, [Job, rayjob_resource()])
    by_name = {(res.__name__, name): res for res, name, _ in found}
    actions = plan_reconcile(
        ((res.__name__, name, jid) for res, name, jid in found), states(j for *_, j in found)
    )
    for a in actions:
        log.info("reconcile: %s %s/%s (job %s): %s", a.action, namespace, a.name, a.job_id, a.why)
        if a.action != "delete":
            continue
        try:
            with api_errors(f"deleting {a.kind} {a.name}"):
                client.delete(
                    by_name[(a.kind, a.name)],
                    a.name,
                    namespace=namespace,
                    cascade=CascadeType.FOREGROUND,
                )
        except KubernetesError as exc:
            if exc.status != 404:
                raise
    return actions
