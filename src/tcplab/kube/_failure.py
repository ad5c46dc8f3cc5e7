"""What is kept when a job's Kubernetes Job fails: the reason and the failed pods' logs.

They go to ``RUN_DIR/kube/failure.json`` and ``RUN_DIR/kube/<pod>.log`` (the run directory is
the job's), and each line is logged on ``tcplab.kube`` from the job's thread, which the
service's worker stores with the job (``job_logs``). A log the API cannot give (no kubelet, a
pod already gone) is recorded as such, with the API's own error: never an empty log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from tcplab.kube._client import KubernetesError, api_errors

__all__ = ["FAILURE_SCHEMA_VERSION", "KubeFailure", "PodLog", "record_failure"]

log = logging.getLogger("tcplab.kube")

FAILURE_SCHEMA_VERSION: Literal[1] = 1
MAX_PODS = 3
TAIL_LINES = 200


class PodLog(BaseModel):
    """One failed pod's log, or why there is none."""

    model_config = ConfigDict(extra="forbid")

    pod: str
    lines: list[str] | None = None
    error: str | None = None


class KubeFailure(BaseModel):
    """``RUN_DIR/kube/failure.json``."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = FAILURE_SCHEMA_VERSION
    kind: str
    reason: str
    recorded_at: datetime
    logs: list[PodLog]


def _pod_log(client: Any, namespace: str, pod: str) -> PodLog:
    try:
        with api_errors(f"reading the log of pod {pod}"):
            lines = list(client.log(pod, namespace=namespace, tail_lines=TAIL_LINES))
    except KubernetesError as exc:
        return PodLog(pod=pod, error=str(exc))
    return PodLog(pod=pod, lines=[line.rstrip("\n") for line in lines])


def record_failure(
    client: Any, namespace: str, run_dir: Path, kind: str, reason: str, pods: tuple[str, ...]
) -> KubeFailure:
    """Fetch the last failed pods' logs and keep them with the job (see module doc)."""
    logs = [_pod_log(client, namespace, p) for p in pods[-MAX_PODS:]]
    failure = KubeFailure(kind=kind, reason=reason, recorded_at=datetime.now(UTC), logs=logs)
    log.warning("kubernetes job failed (%s): %s", kind, reason)
    out = run_dir / "kube"
    try:
        out.mkdir(exist_ok=True)
        (out / "failure.json").write_text(failure.model_dump_json(indent=2))
    except OSError as exc:
        log.warning("cannot write %s: %s", out / "failure.json", exc.strerror or exc)
    for entry in logs:
        if entry.lines is None:
            log.warning("log of pod %s unavailable: %s", entry.pod, entry.error)
            continue
        for line in entry.lines:
            log.info("[%s] %s", entry.pod, line)
        try:
            (out / f"{entry.pod}.log").write_text("\n".join(entry.lines) + "\n")
        except OSError as exc:
            log.warning("cannot write the log of %s: %s", entry.pod, exc.strerror or exc)
    return failure
