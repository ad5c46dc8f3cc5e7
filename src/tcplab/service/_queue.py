"""The durable queue: procrastinate on the service's PostgreSQL database.

One procrastinate job (the *vehicle*) carries one tcplab job id; tcplab's ``jobs`` table is the
source of truth. Vehicles use:

* ``priority`` = the job's priority 0–10 (procrastinate fetches by priority, then by id: age);
* ``lock`` = ``queueing_lock`` = the job id (one execution at a time, one waiting vehicle);
* ``queue`` = ``tcplab.BACKEND[.HARDWARE][@REGION]`` (only workers offering those claim it);
* the retry policy :func:`retry_policy` (bounded attempts, exponential backoff; a hand-back at
  a worker's graceful shutdown is re-queued at once).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tcplab.errors import RunError
from tcplab.service._db import psycopg_conninfo, require_service_deps
from tcplab.service._models import Constraints
from tcplab.service._settings import ServiceSettings

if TYPE_CHECKING:
    import procrastinate

__all__ = [
    "TASK_NAME",
    "HandBack",
    "RetryableJobError",
    "make_queue_app",
    "queue_name",
    "retry_policy",
    "worker_queues",
]

TASK_NAME = "tcplab.run_job"


class RetryableJobError(RunError):
    """An execution failed for a reason a retry may fix (raised to the queue, never shown)."""


class HandBack(RunError):
    """The worker is shutting down: the job goes back to the queue at once."""


def queue_name(backend: str, constraints: Constraints) -> str:
    """``tcplab.BACKEND[.HARDWARE][@REGION]``."""
    name = f"tcplab.{backend}"
    if constraints.hardware:
        name += f".{constraints.hardware}"
    return f"{name}@{constraints.region}" if constraints.region else name


def worker_queues(
    backend: str, hardware: Iterable[str] = (), region: str | None = None
) -> list[str]:
    """The queues a worker serving ``backend`` with that hardware (and region) claims from:
    jobs without constraints, jobs asking for hardware it has, and — with a region — the same
    queues restricted to its region."""
    base = [f"tcplab.{backend}", *(f"tcplab.{backend}.{h}" for h in hardware)]
    return base + [f"{q}@{region}" for q in base] if region else base


def _retry_policy_class() -> type[Any]:
    from procrastinate import RetryDecision
    from procrastinate.retry import BaseRetryStrategy

    class _Policy(BaseRetryStrategy):
        def __init__(self, max_attempts: int, backoff: float, backoff_max: float) -> None:
            self.max_attempts, self.backoff, self.backoff_max = max_attempts, backoff, backoff_max

        def get_retry_decision(self, *, exception: BaseException, job: Any) -> Any:
            if isinstance(exception, HandBack):
                return RetryDecision(retry_in={"seconds": 0})
            if not isinstance(exception, RetryableJobError):
                return None
            if job.attempts + 1 >= self.max_attempts:
                return None
            wait = min(self.backoff_max, self.backoff * 2**job.attempts)
            return RetryDecision(retry_in={"seconds": wait})

    return _Policy


def retry_policy(settings: ServiceSettings) -> Any:
    """procrastinate retry strategy: a :class:`RetryableJobError` is retried after
    ``retry_backoff_seconds × 2^attempt`` (capped) while fewer than ``max_attempts``
    executions happened (lost workers count too: procrastinate's ``attempts``); a
    :class:`HandBack` at once; anything else never."""
    return _retry_policy_class()(
        settings.max_attempts, settings.retry_backoff_seconds, settings.retry_backoff_max_seconds
    )


def _run_job(context: Any, job_id: str) -> None:
    from tcplab.service._runner import execute_job

    execute_job(context, job_id)


def make_queue_app(settings: ServiceSettings, *, asynchronous: bool) -> procrastinate.App:
    """A procrastinate App on the service database with the ``tcplab.run_job`` task.

    ``asynchronous``: a pooled async connector (workers); else a sync one (the API).
    """
    require_service_deps()
    import procrastinate

    conninfo = psycopg_conninfo(settings.postgres_url())
    connector: Any
    if asynchronous:
        connector = procrastinate.PsycopgConnector(conninfo=conninfo, min_size=1, max_size=4)
    else:
        connector = procrastinate.SyncPsycopgConnector(conninfo=conninfo, min_size=1, max_size=2)
    app = procrastinate.App(connector=connector)
    app.task(name=TASK_NAME, pass_context=True, retry=retry_policy(settings))(_run_job)
    return app
