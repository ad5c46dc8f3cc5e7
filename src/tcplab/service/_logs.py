"""Job logs: the lines a worker logs while it runs a job, stored with the job (``job_logs``).

:class:`JobLogHandler` sits on the ``tcplab`` logger of a worker process. A job thread
registers itself (:meth:`JobLogHandler.bind`); records emitted on that thread are buffered and
written to ``job_logs`` after every shard and when the execution ends (:meth:`flush`), so the
table — not the worker's memory — holds them: they survive the worker, and any API process
serves them (``GET /api/v1/jobs/{id}/logs``, ``tcplab jobs logs``). A database that is away
keeps the lines buffered (at most :data:`MAX_BUFFERED` per job, oldest dropped and counted).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from tcplab.errors import StoreError
from tcplab.service._data_models import JobLogLine
from tcplab.service._db import ServiceDB
from tcplab.service._tables import job_logs

__all__ = ["MAX_BUFFERED", "JobLogHandler", "log_events", "read_logs"]

MAX_BUFFERED = 10_000
MAX_MESSAGE = 8_000


@dataclass
class _Bound:
    job_id: str
    execution_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    dropped: int = 0


class JobLogHandler(logging.Handler):
    """Buffers the records of job threads and writes them to ``job_logs``."""

    def __init__(self, db: ServiceDB, worker: str, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.db, self.worker = db, worker
        self._bound: dict[int, _Bound] = {}
        self._guard = threading.Lock()

    def bind(self, job_id: str, execution_id: str) -> None:
        """Records of the calling thread belong to this job's execution from now on."""
        with self._guard:
            self._bound[threading.get_ident()] = _Bound(job_id, execution_id)

    def unbind(self) -> None:
        """Flush, then stop collecting for the calling thread."""
        self.flush()
        with self._guard:
            self._bound.pop(threading.get_ident(), None)

    def emit(self, record: logging.LogRecord) -> None:
        with self._guard:
            bound = self._bound.get(threading.get_ident())
        if bound is None:
            return
        try:
            message = self.format(record)[:MAX_MESSAGE]
        except Exception:  # a bad format string must not break the job
            message = str(record.msg)[:MAX_MESSAGE]
        bound.rows.append(
            {
                "job_id": bound.job_id,
                "ts": datetime.fromtimestamp(record.created, UTC),
                "level": record.levelname,
                "logger": record.name,
                "worker": self.worker,
                "execution_id": bound.execution_id,
                "message": message,
            }
        )
        if len(bound.rows) > MAX_BUFFERED:
            del bound.rows[0]
            bound.dropped += 1

    def flush(self) -> None:
        """Write the calling thread's buffered lines (kept when the database is away)."""
        with self._guard:
            bound = self._bound.get(threading.get_ident())
        if bound is None or not (bound.rows or bound.dropped):
            return
        rows = list(bound.rows)
        if bound.dropped and rows:
            note = dict(rows[0], level="WARNING", logger="tcplab.service")
            note["message"] = f"{bound.dropped} log line(s) dropped while the database was away"
            rows.insert(0, note)
        try:
            with self.db.begin() as conn:
                conn.execute(job_logs.insert(), rows)
        except StoreError:
            return
        del bound.rows[: len(bound.rows)]
        bound.dropped = 0


def read_logs(db: ServiceDB, job_id: str, after: int = 0, limit: int = 1000) -> list[JobLogLine]:
    """Lines of ``job_id`` with ``seq > after``, oldest first, at most ``limit``."""
    query = (
        sa.select(job_logs)
        .where(job_logs.c.job_id == job_id, job_logs.c.seq > after)
        .order_by(job_logs.c.seq)
        .limit(limit)
    )
    with db.begin() as conn:
        rows = conn.execute(query).mappings().all()
    return [JobLogLine.model_validate({k: v for k, v in r.items() if k != "job_id"}) for r in rows]


async def log_events(
    db: ServiceDB,
    job_id: str,
    state_of: Callable[[], str | None],
    disconnected: Callable[[], object],
    *,
    after: int = 0,
    interval: float = 1.0,
    keepalive: float = 15.0,
) -> AsyncIterator[str]:
    """SSE frames: ``event: log`` (a JSON :class:`JobLogLine`, ``id:`` its seq) for every line
    after ``after``; one ``event: end`` once the job is finished and one more read found
    nothing (its last lines land just after its state)."""
    quiet_since, last_look = time.monotonic(), False
    while True:
        lines = await asyncio.to_thread(read_logs, db, job_id, after, 1000)
        for line in lines:
            after = line.seq
            yield f"event: log\nid: {line.seq}\ndata: {line.model_dump_json()}\n\n"
        if lines:
            quiet_since = time.monotonic()
            if len(lines) == 1000:
                continue
        if last_look and not lines:
            yield f'event: end\ndata: {{"job_id": "{job_id}", "after": {after}}}\n\n'
            return
        state = await asyncio.to_thread(state_of)
        last_look = state in (None, "succeeded", "failed", "cancelled")
        if await disconnected():  # type: ignore[misc]
            return
        if time.monotonic() - quiet_since > keepalive:
            quiet_since = time.monotonic()
            yield ": keepalive\n\n"
        await asyncio.sleep(0 if last_look else interval)
