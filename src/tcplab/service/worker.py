"""``tcplab worker``: a procrastinate worker serving one backend, plus the lease keeper.

* claims jobs by priority then age (procrastinate's fetch), ``concurrency`` at a time, each in
  its own thread;
* heartbeats: procrastinate's worker row every ``lease/3`` s, and ``jobs.heartbeat_at`` of the
  jobs it runs;
* the lease keeper re-queues jobs whose worker sent no heartbeat for ``lease_seconds`` (a
  worker killed with SIGKILL): any live worker does it, the next claim resumes the run;
* SIGTERM / SIGINT: stop claiming, let each running job stop at its next shard boundary and
  hand it back to the queue, unregister, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Sequence
from typing import Any

from tcplab.service._backends import get_backend
from tcplab.service._db import ServiceDB
from tcplab.service._jobs import now
from tcplab.service._logs import JobLogHandler
from tcplab.service._metrics_worker import start_worker_exporter
from tcplab.service._queue import TASK_NAME, make_queue_app, retry_policy, worker_queues
from tcplab.service._runner import WorkerRuntime
from tcplab.service._settings import ServiceSettings
from tcplab.service._tables import jobs

__all__ = ["run_worker"]

log = logging.getLogger("tcplab.service")


def _beat(rt: WorkerRuntime) -> None:
    with rt.lock:
        owned = dict(rt.running)
    if not owned:
        return
    with rt.db.begin() as conn:
        for job_id, execution in owned.items():
            conn.execute(
                jobs.update()
                .where(jobs.c.id == job_id, jobs.c.execution_id == execution)
                .values(heartbeat_at=now())
            )


async def _requeue_stalled(app: Any, lease: float) -> None:
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=lease):
        if job.task_name != TASK_NAME:
            continue
        try:
            await app.job_manager.retry_job(job)
            log.warning("job %s: its worker was lost; queued again", job.task_kwargs)
        except Exception as exc:  # another worker re-queued it first
            log.info("stalled vehicle %s not re-queued: %s", job.id, exc)


async def _keep_leases(app: Any, rt: WorkerRuntime) -> None:
    """Every lease/3 s: heartbeat our jobs, re-queue jobs of workers that went silent."""
    lease = rt.settings.lease_seconds
    while True:
        await asyncio.sleep(lease / 3)
        try:
            await asyncio.to_thread(_beat, rt)
            await _requeue_stalled(app, lease)
        except Exception as exc:  # the database may be restarting: try again next time
            log.warning("lease keeper: %s", exc)


async def run_worker(
    settings: ServiceSettings,
    *,
    concurrency: int = 1,
    backend: str = "local",
    hardware: Sequence[str] = (),
    region: str | None = None,
) -> None:
    """Serve jobs until SIGTERM / SIGINT (graceful: running jobs are handed back)."""
    served = get_backend(backend)
    served.check()
    db = ServiceDB(settings.postgres_url(), pool_size=concurrency + 2)
    await asyncio.to_thread(db.migrate)
    name = f"{socket.gethostname()}:{os.getpid()}"
    rt = WorkerRuntime(settings=settings, db=db, name=name, policy=retry_policy(settings))
    rt.logs = JobLogHandler(db, name)
    rt.logs.setFormatter(logging.Formatter("%(message)s"))
    logging.getLogger("tcplab").addHandler(rt.logs)
    if logging.getLogger("tcplab").getEffectiveLevel() > logging.INFO:
        logging.getLogger("tcplab").setLevel(logging.INFO)
    exporter = start_worker_exporter(settings, rt, concurrency)
    app = make_queue_app(settings, asynchronous=True)
    queues = worker_queues(backend, hardware, region)
    loop = asyncio.get_running_loop()
    async with app.open_async():
        worker = asyncio.create_task(
            app.run_worker_async(
                queues=queues,
                concurrency=concurrency,
                name=name,
                install_signal_handlers=False,
                update_heartbeat_interval=settings.lease_seconds / 3,
                stalled_worker_timeout=settings.lease_seconds,
                fetch_job_polling_interval=settings.poll_seconds,
                abort_job_polling_interval=settings.poll_seconds,
                additional_context={"runtime": rt},
            )
        )

        def stop() -> None:
            if not rt.shutting_down.is_set():
                log.info("worker %s: stopping; running jobs are handed back", name)
                rt.shutting_down.set()
                worker.cancel()

        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        keeper = asyncio.create_task(_keep_leases(app, rt))
        log.info("worker %s: serving queues %s, concurrency %d", name, queues, concurrency)
        try:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    logging.getLogger("tcplab").removeHandler(rt.logs)
    if exporter is not None:
        exporter.close()
    await asyncio.to_thread(served.close)
    db.close()
    log.info("worker %s: stopped", name)
