"""Watching a job's Kubernetes objects: watch API with resourceVersion and reconnects (no
polling loop), and the verdict on a Job from its conditions and its pods.

:class:`ResourceWatch` is a thread per watched set (the Job, its pods): a watch started
without a resourceVersion lists what exists (ADDED events), then each event's resourceVersion
is where a reconnect resumes; ``410 Gone`` starts over from a fresh list; a dropped connection
reconnects with backoff. :func:`classify` turns the latest Job and pods into a
:class:`Verdict` with one of the :data:`FAILURE_KINDS` as the reason.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tcplab.kube._client import status_code

__all__ = ["FAILURE_KINDS", "IMAGE_PULL_REASONS", "ResourceWatch", "Verdict", "classify"]

log = logging.getLogger("tcplab.kube")

FAILURE_KINDS = (
    "image_pull",
    "oom_killed",
    "deadline_exceeded",
    "evicted",
    "backoff_exhausted",
    "failed",
    "deleted",
)
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)


@dataclass
class ResourceWatch:
    """Watch ``res`` (selected by labels/fields) into ``events`` until :meth:`stop`."""

    client: Any
    res: Any
    namespace: str
    events: queue.Queue[tuple[str, str, Any]]
    labels: dict[str, str] | None = None
    fields: dict[str, str] | None = None
    timeout: int = 30
    reconnects: int = 0
    resyncs: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> ResourceWatch:
        self._thread = threading.Thread(target=self._run, daemon=True, name="tcplab-kube-watch")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        kind = self.res.__name__
        rv: str | None = None
        delay = 0.2
        while not self._stop.is_set():
            try:
                for etype, obj in self.client.watch(
                    self.res,
                    namespace=self.namespace,
                    labels=self.labels,
                    fields=self.fields,
                    server_timeout=self.timeout,
                    resource_version=rv,
                ):
                    rv = obj.metadata.resourceVersion or rv
                    self.events.put((kind, etype, obj))
                    delay = 0.2
                    if self._stop.is_set():
                        return
            except Exception as exc:
                if self._stop.is_set():
                    return
                if status_code(exc) == 410:  # resourceVersion too old: list again
                    rv, self.resyncs = None, self.resyncs + 1
                    continue
                self.reconnects += 1
                log.info("watch %s: %s; reconnecting in %.1f s", kind, exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)


@dataclass(frozen=True)
class Verdict:
    """How a Job ended: ``succeeded`` or ``failed`` with a kind and a reason."""

    state: str
    kind: str | None = None
    reason: str = ""
    failed_pods: tuple[str, ...] = ()


def _condition(job: Any, *types: str) -> Any:
    for c in (job.status.conditions if job.status else None) or []:
        if c.type in types and c.status == "True":
            return c
    return None


def _terminated(pod: Any) -> Any:
    for cs in (pod.status.containerStatuses if pod.status else None) or []:
        if cs.state is not None and cs.state.terminated is not None:
            return cs.state.terminated
    return None


def _waiting_pull(pod: Any) -> Any:
    for cs in (pod.status.containerStatuses if pod.status else None) or []:
        waiting = cs.state.waiting if cs.state is not None else None
        if waiting is not None and waiting.reason in IMAGE_PULL_REASONS:
            return waiting
    return None


def _pod_failure(pod: Any) -> tuple[str, str] | None:
    """(kind, text) of a failed pod: evicted, OOMKilled, or a non-zero exit."""
    name = pod.metadata.name
    if pod.status is None or pod.status.phase != "Failed":
        return None
    if pod.status.reason == "Evicted":
        return "evicted", f"pod {name} was evicted: {pod.status.message or ''}".strip()
    term = _terminated(pod)
    if term is not None and term.reason == "OOMKilled":
        return "oom_killed", f"pod {name} was OOMKilled (exit code {term.exitCode})"
    code = term.exitCode if term is not None else "?"
    why = term.reason if term is not None and term.reason else "Error"
    return "failed", f"pod {name} failed: {why} (exit code {code})"


def classify(
    job: Any, pods: dict[str, Any], pull_seen: dict[str, float], grace: float
) -> Verdict | None:
    """The verdict on ``job`` given its pods; None while it is still going."""
    failed = sorted(
        ((p.metadata.creationTimestamp or 0, n) for n, p in pods.items() if _pod_failure(p)),
        key=lambda t: (str(t[0]), t[1]),
    )
    failed_names = tuple(n for _, n in failed)
    last = _pod_failure(pods[failed_names[-1]]) if failed_names else None
    if job is not None and _condition(job, "Complete", "SuccessCriteriaMet"):
        return Verdict("succeeded")
    cond = _condition(job, "Failed", "FailureTarget") if job is not None else None
    if cond is not None:
        text = f"Job {job.metadata.name}: {cond.reason}: {cond.message or ''}".strip()
        if cond.reason == "DeadlineExceeded":
            return Verdict("failed", "deadline_exceeded", text, failed_names)
        kind = last[0] if last and last[0] in ("oom_killed", "evicted") else "backoff_exhausted"
        if cond.reason not in ("BackoffLimitExceeded", "FailedIndexes"):
            kind = last[0] if last else "failed"
        detail = f"; last failure: {last[1]}" if last else ""
        return Verdict("failed", kind, text + detail, failed_names)
    now = time.monotonic()
    for name, pod in pods.items():
        waiting = _waiting_pull(pod)
        if waiting is None:
            pull_seen.pop(name, None)
            continue
        first = pull_seen.setdefault(name, now)
        if now - first >= grace:
            text = f"image pull error on pod {name}: {waiting.reason}: {waiting.message or ''}"
            return Verdict("failed", "image_pull", text.strip(), failed_names)
    return None
