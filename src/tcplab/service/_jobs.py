"""The ``jobs`` table: insert with its queue vehicle (one transaction), read, list, cancel,
retry, and the transitions a worker makes (each guarded by the execution that owns the job).
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

import sqlalchemy as sa

from tcplab.errors import UsageError
from tcplab.service._db import ServiceDB
from tcplab.service._models import TERMINAL_STATES, JobRecord
from tcplab.service._queue import TASK_NAME
from tcplab.service._tables import jobs

__all__ = [
    "cancel_job",
    "defer_vehicle",
    "get_job",
    "insert_job",
    "job_page",
    "list_jobs",
    "new_job_id",
    "now",
    "record_from_row",
    "retry_job",
    "run_job",
    "run_ref",
    "update_owned",
]


def now() -> datetime:
    """Timezone-aware UTC now."""
    return datetime.now(UTC)


def new_job_id() -> str:
    """``job-`` and 20 hex digits, time-ordered prefix."""
    return f"job-{datetime.now(UTC):%Y%m%d%H%M%S}-{uuid.uuid4().hex[:8]}"


def record_from_row(row: Any) -> JobRecord:
    """A typed record from a ``jobs`` row."""
    return JobRecord.model_validate(dict(row))


def defer_vehicle(conn: sa.Connection, app: Any, record: JobRecord) -> int:
    """Queue the procrastinate vehicle of ``record`` on ``conn`` (inside its transaction)."""
    raw = conn.connection.driver_connection
    deferrer = app.configure_task(
        TASK_NAME,
        queue=record.queue,
        priority=record.priority,
        lock=record.id,
        queueing_lock=record.id,
        connection=raw,
    )
    return int(deferrer.defer(job_id=record.id))


def _existing(conn: sa.Connection, user: str, key: str) -> JobRecord | None:
    row = (
        conn.execute(sa.select(jobs).where(jobs.c.submitted_by == user, jobs.c.client_key == key))
        .mappings()
        .first()
    )
    return record_from_row(row) if row else None


def insert_job(db: ServiceDB, app: Any, record: JobRecord) -> tuple[JobRecord, bool]:
    """Store ``record`` and queue it, atomically. With a ``client_key`` already used by the
    same user, nothing is inserted and the existing job is returned (``created`` False)."""
    import sqlalchemy.exc as sa_exc

    if record.client_key is not None:
        with db.begin() as conn:
            found = _existing(conn, record.submitted_by, record.client_key)
        if found is not None:
            return found, False
    try:
        with db.begin() as conn:
            conn.execute(jobs.insert().values(**record.model_dump(mode="json")))
            vehicle = defer_vehicle(conn, app, record)
            conn.execute(jobs.update().where(jobs.c.id == record.id).values(queue_job_id=vehicle))
    except sa_exc.IntegrityError:
        if record.client_key is None:
            raise
        with db.begin() as conn:  # a concurrent submit with the same key won the race
            found = _existing(conn, record.submitted_by, record.client_key)
        if found is None:
            raise
        return found, False
    stored = get_job(db, record.id)
    assert stored is not None
    return stored, True


def get_job(db: ServiceDB, job_id: str) -> JobRecord | None:
    """The job, or None."""
    if "\x00" in job_id:  # PostgreSQL text holds no NUL: no job has one
        return None
    with db.begin() as conn:
        row = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).mappings().first()
    return record_from_row(row) if row else None


def list_jobs(
    db: ServiceDB,
    *,
    state: str | None = None,
    priority_class: str | None = None,
    submitted_by: str | None = None,
    run_id: str | None = None,
    with_run: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[JobRecord], int]:
    """One page of jobs, newest first, and how many match."""
    where = []
    if run_id:
        where.append(jobs.c.run_id == run_id)
    if with_run:
        where.append(jobs.c.run_id.is_not(None))
    if state:
        where.append(jobs.c.state == state)
    if priority_class:
        where.append(jobs.c.priority_class == priority_class)
    if submitted_by:
        where.append(jobs.c.submitted_by == submitted_by)
    query = sa.select(jobs).where(*where).order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
    with db.begin() as conn:
        rows = conn.execute(query.limit(limit).offset(offset)).mappings().all()
        total = conn.execute(sa.select(sa.func.count()).select_from(jobs).where(*where)).scalar()
    return [record_from_row(r) for r in rows], int(total or 0)


#: the columns of a job in a list (everything the API shows but the spec)
_LIST_COLUMNS = [
    c for c in jobs.c if c.name not in ("spec", "queue_job_id", "execution_id", "run_dir")
]


class JobPage(NamedTuple):
    """One page of :func:`job_page`: rows of :data:`_LIST_COLUMNS`, the count of every match,
    and the cursor of the next page (None on the last one)."""

    rows: list[dict[str, Any]]
    total: int
    next_cursor: str | None


def _cursor(created_at: datetime, job_id: str) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[datetime, str]:
    """(created_at, id) of a cursor.

    Raises:
        UsageError: not a cursor this service made.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, job_id = raw.split("|", 1)
        created = datetime.fromisoformat(when)
    except (ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"invalid cursor {cursor[:40]!r}: pass a next_cursor of this API") from exc
    if created.tzinfo is None or not job_id.isprintable():
        raise UsageError(f"invalid cursor {cursor[:40]!r}: pass a next_cursor of this API")
    return created, job_id


def job_page(
    db: ServiceDB,
    *,
    state: str | None = None,
    priority_class: str | None = None,
    submitted_by: str | None = None,
    limit: int = 50,
    offset: int = 0,
    cursor: str | None = None,
) -> JobPage:
    """One page of jobs, newest first, without their specs, and how many match — one
    statement, one round trip (the count is a sub-select of the page's query).

    Raises:
        UsageError: an invalid ``cursor``.
    """
    where = []
    if state:
        where.append(jobs.c.state == state)
    if priority_class:
        where.append(jobs.c.priority_class == priority_class)
    if submitted_by:
        where.append(jobs.c.submitted_by == submitted_by)
    count = sa.select(sa.func.count()).select_from(jobs).where(*where)
    after = []
    if cursor:
        created, job_id = _uncursor(cursor)
        after = [  # the first term lets the created_at index bound the scan
            jobs.c.created_at <= created,
            sa.tuple_(jobs.c.created_at, jobs.c.id) < sa.tuple_(created, job_id),
        ]
    query = (
        sa.select(*_LIST_COLUMNS, count.scalar_subquery().label("total"))
        .where(*where, *after)
        .order_by(jobs.c.created_at.desc(), jobs.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    rows = [dict(r) for r in db.read(lambda conn: conn.execute(query).mappings().all())]
    if rows:
        total = int(rows[0]["total"])
    else:  # past the end: the sub-select had no row to ride on
        total = int(db.read(lambda conn: conn.execute(count).scalar()) or 0)
    for row in rows:
        del row["total"]
    last = rows[-1] if len(rows) == limit else None
    return JobPage(rows, total, _cursor(last["created_at"], last["id"]) if last else None)


def run_job(db: ServiceDB, run_id: str) -> JobRecord | None:
    """The (newest) job that made ``run_id``, or None: one read."""
    if "\x00" in run_id:
        return None
    query = sa.select(jobs).where(jobs.c.run_id == run_id).order_by(jobs.c.created_at.desc())
    row = db.read(lambda conn: conn.execute(query.limit(1)).mappings().first())
    return record_from_row(row) if row is not None else None


def run_ref(db: ServiceDB, run_id: str) -> tuple[str, str, str | None] | None:
    """(job id, submitting user, run directory) of the job that made ``run_id``, or None."""
    if "\x00" in run_id:
        return None
    query = (
        sa.select(jobs.c.id, jobs.c.submitted_by, jobs.c.run_dir)
        .where(jobs.c.run_id == run_id)
        .order_by(jobs.c.created_at.desc())
        .limit(1)
    )
    row = db.read(lambda conn: conn.execute(query).first())
    return (str(row[0]), str(row[1]), row[2]) if row is not None else None


def _locked(conn: sa.Connection, job_id: str) -> JobRecord | None:
    row = (
        conn.execute(sa.select(jobs).where(jobs.c.id == job_id).with_for_update())
        .mappings()
        .first()
    )
    return record_from_row(row) if row else None


def cancel_job(db: ServiceDB, app: Any, job_id: str, by: str) -> JobRecord | None:
    """Cancel: a queued job at once; a running one is asked to stop at its next shard
    boundary (``cancel_requested_at``); a finished one is left as it is."""
    vehicle: int | None = None
    with db.begin() as conn:
        rec = _locked(conn, job_id)
        if rec is None or rec.state in TERMINAL_STATES or rec.cancel_requested_at:
            return rec
        values: dict[str, Any] = {
            "cancel_requested_at": now(),
            "cancel_requested_by": by,
            "updated_at": now(),
        }
        if rec.state == "queued":
            vehicle = rec.queue_job_id
            values |= {
                "state": "cancelled",
                "reason": f"cancelled by {by} before it ran"
                if rec.attempts == 0
                else f"cancelled by {by} while waiting for a retry",
                "finished_at": now(),
            }
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(**values))
    if vehicle is not None:  # a vehicle left behind is harmless: it finds the job cancelled
        import contextlib

        with contextlib.suppress(Exception):
            app.job_manager.cancel_job_by_id(vehicle)
    return get_job(db, job_id)


def retry_job(db: ServiceDB, app: Any, job_id: str) -> JobRecord | None:
    """Queue a failed or cancelled job again (its run, if any, resumes from its shards)."""
    with db.begin() as conn:
        rec = _locked(conn, job_id)
        if rec is None or rec.state not in ("failed", "cancelled"):
            return rec
        conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id)
            .values(
                state="queued",
                reason=f"retry requested after: {rec.reason or rec.state}",
                cancel_requested_at=None,
                cancel_requested_by=None,
                finished_at=None,
                execution_id=None,
                updated_at=now(),
            )
        )
        vehicle = defer_vehicle(conn, app, rec)
        conn.execute(jobs.update().where(jobs.c.id == job_id).values(queue_job_id=vehicle))
    return get_job(db, job_id)


def update_owned(db: ServiceDB, job_id: str, execution_id: str, **values: Any) -> bool:
    """Update the job only while ``execution_id`` owns it; False when it no longer does."""
    values["updated_at"] = now()
    with db.begin() as conn:
        result = conn.execute(
            jobs.update()
            .where(jobs.c.id == job_id, jobs.c.execution_id == execution_id)
            .values(**values)
        )
    return bool(result.rowcount)
