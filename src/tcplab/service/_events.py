"""Progress of one job as Server-Sent Events, until the job ends.

Each event is ``event: progress`` with a JSON :class:`ProgressEvent` (sent when anything in it
changed; the first is sent at once), then one ``event: end`` with the final state, after which
the stream closes. A comment line is sent every ``keepalive`` seconds so proxies keep the
connection. The job is read from the ``jobs`` table (workers write progress after every
shard), so any API process can serve any job's stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tcplab.service._db import ServiceDB
from tcplab.service._jobs import get_job, now
from tcplab.service._models import TERMINAL_STATES, ArmProgress, JobRecord

__all__ = ["ProgressEvent", "job_events", "progress_event"]


class ProgressEvent(BaseModel):
    """One progress event of a job (``data:`` of ``event: progress`` and ``event: end``)."""

    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    job_id: str
    state: str
    reason: str | None = None
    run_id: str | None = None
    run_status: str | None = None
    arms: dict[str, ArmProgress]
    trials_done: int = Field(ge=0)
    trials_total: int = Field(ge=0)
    failures: int = Field(ge=0)
    shards_done: int = Field(ge=0)
    shards_total: int = Field(ge=0)
    rate_per_s: float | None = None
    eta_s: float | None = None
    updated_at: datetime


def progress_event(job: JobRecord) -> ProgressEvent:
    """The event for the job as it is now (zero progress before its first shard)."""
    p = job.progress
    per_arm = max(1, len(job.arms))
    arms = (
        p.arms
        if p is not None
        else {a: ArmProgress(done=0, total=job.n_trials // per_arm) for a in job.arms}
    )
    done = p.trials_done if p is not None else 0
    total = p.trials_total if p is not None else job.n_trials
    rate = eta = None
    if job.state == "running" and job.started_at is not None and done:
        elapsed = (now() - job.started_at).total_seconds()
        if elapsed > 0:
            rate = done / elapsed
            eta = max(0.0, (total - done) / rate)
    return ProgressEvent(
        job_id=job.id,
        state=job.state,
        reason=job.reason,
        run_id=job.run_id,
        run_status=job.run_status,
        arms=arms,
        trials_done=done,
        trials_total=total,
        failures=sum(a.failures for a in arms.values()),
        shards_done=p.shards_done if p is not None else 0,
        shards_total=p.shards_total if p is not None else 0,
        rate_per_s=rate,
        eta_s=eta,
        updated_at=job.updated_at,
    )


def _frame(event: str, body: ProgressEvent) -> str:
    return f"event: {event}\ndata: {body.model_dump_json()}\n\n"


async def job_events(
    db: ServiceDB,
    job_id: str,
    disconnected: Callable[[], object],
    *,
    interval: float = 0.5,
    keepalive: float = 15.0,
) -> AsyncIterator[str]:
    """SSE frames for ``job_id`` until it is finished (or the client went away)."""
    last: str | None = None
    quiet_since = time.monotonic()
    while True:
        job = await asyncio.to_thread(get_job, db, job_id)
        if job is None:
            return
        event = progress_event(job)
        key = event.model_dump_json(exclude={"rate_per_s", "eta_s", "updated_at"})
        if key != last:
            last, quiet_since = key, time.monotonic()
            yield _frame("progress", event)
        if job.state in TERMINAL_STATES:
            yield _frame("end", event)
            return
        if time.monotonic() - quiet_since > keepalive:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        gone = disconnected()
        if asyncio.iscoroutine(gone):
            gone = await gone
        if gone:
            return
        await asyncio.sleep(interval)
