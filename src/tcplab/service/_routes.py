"""The ``/api/v1`` routes: health, whoami, jobs (submit, list, detail, cancel, retry), runs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, TypeAdapter

from tcplab.errors import TcplabError, UsageError
from tcplab.experiment import RunDir
from tcplab.service._auth import Caller, can_modify, can_see, require_writer, sees_jobs_of
from tcplab.service._events import job_events
from tcplab.service._jobs import (
    cancel_job,
    get_job,
    insert_job,
    job_page,
    list_jobs,
    retry_job,
    run_ref,
)
from tcplab.service._models import (
    ErrorBody,
    Health,
    JobList,
    JobListItem,
    JobRecord,
    JobView,
    RunList,
    RunRef,
    RunSummary,
    SubmitRequest,
    TokenRecord,
    WhoAmI,
)
from tcplab.service._submit import build_job

__all__ = ["router"]

router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 413, 422, 429, 503)
}
JobState = Annotated[str | None, Query(pattern="^(queued|running|succeeded|failed|cancelled)$")]
PriorityClass = Annotated[str | None, Query(pattern="^(critical|high|normal|low)$")]
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0, le=10**9)]
_ITEMS = TypeAdapter(list[JobListItem])


def _fail(status: int, kind: str, message: str) -> HTTPException:
    return HTTPException(status, detail={"type": kind, "message": message})


def _visible_job(request: Request, job_id: str, who: TokenRecord) -> JobRecord:
    job = get_job(request.app.state.db, job_id)
    if job is None or not can_see(job, who):
        raise _fail(404, "NotFound", f"no job {job_id!r}")
    return job


@router.get("/health", response_model=Health, tags=["health"])
def health() -> Health:
    """Liveness: the process answers (no token needed)."""
    return Health(status="ok")


@router.get(
    "/health/ready", response_model=Health, tags=["health"], responses={503: {"model": Health}}
)
def ready(request: Request, response: Response) -> Health:
    """Readiness: the database answers and its schema is current (no token needed)."""
    problems = request.app.state.db.readiness()
    if problems:
        response.status_code = 503
        return Health(status="not ready", problems=problems)
    return Health(status="ready")


@router.get("/whoami", response_model=WhoAmI, tags=["auth"], responses=_ERRORS)
def whoami(who: Caller) -> WhoAmI:
    """The caller's user name and role."""
    return WhoAmI(username=who.username, role=who.role, token_id=who.id)


@router.post(
    "/jobs",
    response_model=JobView,
    status_code=201,
    tags=["jobs"],
    responses={200: {"model": JobView}, **_ERRORS},
)
def submit(
    request: Request,
    response: Response,
    body: SubmitRequest,
    who: Caller,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobView:
    """Submit an experiment. The same ``client_key`` (or ``Idempotency-Key`` header) from the
    same user returns the same job (200); reused with another spec it is refused (409)."""
    require_writer(who)
    if idempotency_key and body.client_key and idempotency_key != body.client_key:
        raise _fail(422, "UsageError", "Idempotency-Key and client_key differ")
    key = body.client_key or idempotency_key or None
    state = request.app.state
    record = build_job(body, who.username, state.settings, key)
    job, created = insert_job(state.db, state.queue, record)
    if not created:
        same = (job.spec_hash, job.priority, job.backend, job.constraints) == (
            record.spec_hash,
            record.priority,
            record.backend,
            record.constraints,
        )
        if not same:
            raise _fail(
                409,
                "Conflict",
                f"client key {key!r} was used for job {job.id} with another submission",
            )
        response.status_code = 200
    return job.view()


@router.get("/jobs", response_model=JobList, tags=["jobs"], responses=_ERRORS)
def jobs_list(
    request: Request,
    who: Caller,
    state: JobState = None,
    priority_class: PriorityClass = None,
    submitted_by: Annotated[str | None, Query(max_length=200)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    cursor: Annotated[str | None, Query(max_length=400)] = None,
) -> Response:
    """Jobs the caller may see, newest first (submitters: their own), without their specs
    (``GET /jobs/{id}`` has the spec). Page on with ``cursor`` = the last page's
    ``next_cursor`` (keyset: pages never shift), or with ``offset``."""
    if who.role == "submitter":
        if submitted_by not in (None, who.username):
            return _json(JobList(jobs=[], total=0, limit=limit, offset=offset))
        submitted_by = who.username
    if submitted_by is not None and "\x00" in submitted_by:  # no user name holds one
        return _json(JobList(jobs=[], total=0, limit=limit, offset=offset))
    try:
        page = job_page(
            request.app.state.db,
            state=state,
            priority_class=priority_class,
            submitted_by=submitted_by,
            limit=limit,
            offset=offset,
            cursor=cursor,
        )
    except UsageError as exc:
        raise _fail(422, "UsageError", str(exc)) from exc
    body = JobList(
        jobs=_ITEMS.validate_python(page.rows),
        total=page.total,
        limit=limit,
        offset=offset,
        next_cursor=page.next_cursor,
    )
    return _json(body)


@router.get("/jobs/{job_id}", response_model=JobView, tags=["jobs"], responses=_ERRORS)
def job_detail(request: Request, job_id: str, who: Caller) -> JobView:
    """One job with its progress (done / total trials per arm, shards)."""
    return _visible_job(request, job_id, who).view()


SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "``event: progress`` (JSON ProgressEvent) whenever it changes, "
            "then one ``event: end``; the stream closes when the job is finished",
            "content": {"text/event-stream": {}},
        },
        **_ERRORS,
    },
)
def job_events_stream(request: Request, job_id: str, who: Caller) -> StreamingResponse:
    """Progress of a job as Server-Sent Events (done / total / failures per arm, state, rate,
    ETA) until the job succeeds, fails or is cancelled."""
    _visible_job(request, job_id, who)
    frames = job_events(request.app.state.db, job_id, request.is_disconnected)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/jobs/{job_id}/cancel", response_model=JobView, tags=["jobs"], responses=_ERRORS)
def job_cancel(request: Request, job_id: str, who: Caller) -> JobView:
    """Cancel: a queued job at once; a running one at its next shard boundary (finished
    shards are kept). A finished job answers 409."""
    job = _visible_job(request, job_id, who)
    if not can_modify(job, who):
        raise _fail(403, "Forbidden", f"{who.username} ({who.role}) cannot cancel job {job_id}")
    if job.state in ("succeeded", "failed", "cancelled"):
        raise _fail(409, "Conflict", f"job {job_id} already {job.state}")
    done = cancel_job(request.app.state.db, request.app.state.queue, job_id, who.username)
    assert done is not None
    return done.view()


@router.post("/jobs/{job_id}/retry", response_model=JobView, tags=["jobs"], responses=_ERRORS)
def job_retry(request: Request, job_id: str, who: Caller) -> JobView:
    """Queue a failed or cancelled job again; its run resumes from its finished shards."""
    job = _visible_job(request, job_id, who)
    if not can_modify(job, who):
        raise _fail(403, "Forbidden", f"{who.username} ({who.role}) cannot retry job {job_id}")
    if job.state not in ("failed", "cancelled"):
        raise _fail(
            409,
            "Conflict",
            f"job {job_id} is {job.state}; only failed or cancelled jobs are retried",
        )
    done = retry_job(request.app.state.db, request.app.state.queue, job_id)
    assert done is not None
    return done.view()


@router.get("/runs", response_model=RunList, tags=["runs"], responses=_ERRORS)
def runs_list(request: Request, who: Caller, limit: Limit = 50, offset: Offset = 0) -> RunList:
    """Runs produced by the jobs the caller may see, newest job first."""
    mine = who.username if who.role == "submitter" else None
    found, _ = list_jobs(
        request.app.state.db, submitted_by=mine, limit=limit, offset=offset, with_run=True
    )
    refs = [
        RunRef(
            run_id=j.run_id or "",
            job_id=j.id,
            name=j.name,
            submitted_by=j.submitted_by,
            job_state=j.state,
            run_status=j.run_status,
            created_at=j.created_at,
        )
        for j in found
    ]
    return RunList(runs=refs, limit=limit, offset=offset)


@router.get("/runs/{run_id}", response_model=RunSummary, tags=["runs"], responses=_ERRORS)
def run_summary(request: Request, run_id: str, who: Caller) -> Response:
    """A run's record counts and, once it has trials, its per-arm table."""
    ref = run_ref(request.app.state.db, run_id)
    if ref is None or not sees_jobs_of(who, ref[1]) or not ref[2]:
        raise _fail(404, "NotFound", f"no run {run_id!r}")
    return Response(_cached_summary(run_id, ref[0], ref[2]), media_type="application/json")


def _json(model: BaseModel) -> Response:
    """A model as JSON, serialized once (the route's ``response_model`` documents it)."""
    return Response(model.model_dump_json(), media_type="application/json")


_SUMMARIES: OrderedDict[tuple[str, str, int, int, int], bytes] = OrderedDict()
_SUMMARIES_KEPT = 256
_SUMMARIES_LOCK = threading.Lock()


def _cached_summary(run_id: str, job_id: str, run_dir: str) -> bytes:
    """The run's summary as JSON, computed and serialized again only when its ``run.json``
    changed (it is replaced, never edited in place, whenever a shard or the status is
    recorded): a request costs one ``stat``."""
    try:
        st = (Path(run_dir) / "run.json").stat()
    except OSError:
        return _summary(run_id, job_id, run_dir).model_dump_json().encode()
    key = (run_dir, job_id, st.st_ino, st.st_mtime_ns, st.st_size)
    with _SUMMARIES_LOCK:
        hit = _SUMMARIES.get(key)
        if hit is not None:
            _SUMMARIES.move_to_end(key)
            return hit
    body = _summary(run_id, job_id, run_dir).model_dump_json().encode()
    with _SUMMARIES_LOCK:
        _SUMMARIES[key] = body
        while len(_SUMMARIES) > _SUMMARIES_KEPT:
            _SUMMARIES.popitem(last=False)
    return body


def _summary(run_id: str, job_id: str, run_dir: str) -> RunSummary:
    from tcplab.report import arm_table

    try:
        record = RunDir(run_dir).read_record()
    except TcplabError as exc:
        raise _fail(503, "RunUnreadable", f"run {run_id}: {exc}") from exc
    arms = None
    if record.shards:
        try:
            arms = [row.to_dict() for row in arm_table(run_dir)]
        except TcplabError as exc:
            raise _fail(503, "RunUnreadable", f"run {run_id}: {exc}") from exc
    return RunSummary(
        run_id=record.run_id,
        job_id=job_id,
        name=record.name,
        status=record.status,
        n_trials=record.n_trials,
        n_shards=record.n_shards,
        shards_done=len(record.shards),
        trials_by_arm=record.trials_by_arm,
        started_at=record.started_at,
        finished_at=record.finished_at,
        stop_reason=record.stop_reason,
        error=record.error,
        warnings=list(record.warnings),
        arms=arms,
    )
