"""Data routes under ``/api/v1``: a job's logs, a run's trials (keyset pages), its report
files, the comparison of two runs, and ``POST /check`` (issue 16's decision of a command line).

Every number of ``/compare`` comes from :func:`tcplab.report.compare_runs` (what ``tcplab
compare`` prints); the report files are :func:`tcplab.report.build_report`'s, rebuilt when the
run changed; ``/check`` answers :func:`tcplab.check.check`'s result as it is.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel

from tcplab.check import CheckResult
from tcplab.errors import MissingDependencyError, TcplabError, UsageError
from tcplab.service._auth import Caller, can_see
from tcplab.service._data_models import (
    LOG_LIMIT_MAX,
    TRIAL_LIMIT_MAX,
    CheckRequest,
    JobLogPage,
    TrialPage,
)
from tcplab.service._jobs import get_job, run_job
from tcplab.service._logs import log_events, read_logs
from tcplab.service._models import JobRecord, TokenRecord
from tcplab.service._routes import _ERRORS, SSE_HEADERS, _fail, _visible_job

__all__ = ["REPORT_FILES", "CheckBatch", "data_router", "fresh_report"]

data_router = APIRouter()
REPORT_FILES = {
    "report.html": "text/html; charset=utf-8",
    "report.md": "text/markdown; charset=utf-8",
    "summary.json": "application/json",
}
_ERRS = _ERRORS
_REPORT_LOCK = threading.Lock()  # one build at a time in this process


class CheckBatch(BaseModel):
    """``POST /check`` with ``lines``: one result per line, in order."""

    schema_version: Literal[1] = 1
    results: list[CheckResult]


def _visible_run(request: Request, run_id: str, who: TokenRecord) -> JobRecord:
    job = run_job(request.app.state.db, run_id)
    if job is None or not can_see(job, who) or not job.run_dir:
        raise _fail(404, "NotFound", f"no run {run_id!r}")
    return job


@data_router.get("/jobs/{job_id}/logs", response_model=JobLogPage, tags=["jobs"], responses=_ERRS)
def job_logs(
    request: Request,
    job_id: str,
    who: Caller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=LOG_LIMIT_MAX)] = 1000,
) -> Response:
    """Lines the workers logged while running the job (every execution), oldest first: those
    after ``after`` (the last ``seq`` seen), at most ``limit``. Follow a running job by asking
    again with ``after = next_after``."""
    job = _visible_job(request, job_id, who)
    lines = read_logs(request.app.state.db, job_id, after, limit)
    page = JobLogPage(
        job_id=job_id, state=job.state, lines=lines, next_after=lines[-1].seq if lines else after
    )
    return Response(page.model_dump_json(), media_type="application/json")


@data_router.get(
    "/jobs/{job_id}/logs/stream",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "``event: log`` (a JSON JobLogLine, ``id:`` its seq) per line, then "
            "one ``event: end`` when the job is finished",
            "content": {"text/event-stream": {}},
        },
        **_ERRS,
    },
)
def job_logs_stream(
    request: Request,
    job_id: str,
    who: Caller,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> StreamingResponse:
    """The job's log lines after ``after`` as Server-Sent Events, following it until it is
    finished (the table is read every second)."""
    _visible_job(request, job_id, who)
    db = request.app.state.db

    def state() -> str | None:
        job = get_job(db, job_id)
        return job.state if job else None

    frames = log_events(db, job_id, state, request.is_disconnected, after=after)
    return StreamingResponse(frames, media_type="text/event-stream", headers=SSE_HEADERS)


@data_router.get("/runs/{run_id}/trials", response_model=TrialPage, tags=["runs"], responses=_ERRS)
def run_trials(
    request: Request,
    run_id: str,
    who: Caller,
    cursor: Annotated[int, Query(ge=-1, le=2**62)] = -1,
    limit: Annotated[int, Query(ge=1, le=TRIAL_LIMIT_MAX)] = 100,
    arm: Annotated[str | None, Query(max_length=200)] = None,
    status: Annotated[str | None, Query(max_length=50)] = None,
    tool: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """A page of the run's trials in ``seq`` order: those with ``seq > cursor`` (keyset
    paging: pass the page's ``next_cursor``), filtered by ``arm``, ``status``, ``tool``."""
    import pyarrow.compute as pc

    from tcplab.experiment import read_trials

    job = _visible_run(request, run_id, who)
    assert job.run_dir is not None
    try:
        table = read_trials(Path(job.run_dir))
    except UsageError:  # no shard written yet
        table = None
    rows: list[dict[str, Any]] = []
    next_cursor = None
    if table is not None:
        mask = pc.greater(table["seq"], cursor)
        for column, value in (("arm", arm), ("status", status), ("tool", tool)):
            if value is not None:
                mask = pc.and_(mask, pc.equal(table[column], value))
        chosen = table.filter(mask).sort_by("seq")
        rows = chosen.slice(0, limit).to_pylist()
        if chosen.num_rows > limit:
            next_cursor = int(rows[-1]["seq"])
    page = TrialPage(run_id=run_id, limit=limit, trials=rows, next_cursor=next_cursor)
    return Response(page.model_dump_json(), media_type="application/json")


def fresh_report(run_dir: Path) -> Path:
    """``run_dir/report`` as :func:`tcplab.report.build_report` writes it, rebuilt when
    ``run.json`` is newer than the report."""
    from tcplab.report import build_report

    out = run_dir / "report"
    record = run_dir / "run.json"
    with _REPORT_LOCK:
        summary = out / "summary.json"
        stale = not summary.is_file() or not (out / "report.html").is_file()
        if not stale and record.is_file():
            stale = record.stat().st_mtime > summary.stat().st_mtime
        if stale:
            build_report(run_dir)
    return out


@data_router.get(
    "/runs/{run_id}/report/{name}",
    tags=["runs"],
    response_class=FileResponse,
    responses={
        200: {"content": {t.split(";")[0]: {} for t in REPORT_FILES.values()}},
        **_ERRS,
    },
)
def run_report(
    request: Request,
    run_id: str,
    name: Literal["report.html", "report.md", "summary.json"],
    who: Caller,
) -> FileResponse:
    """The run's report (``tcplab report``): ``report.html`` (self-contained), ``report.md``
    or ``summary.json``; built on first request, rebuilt when the run changed. A run without
    trials answers 409."""
    job = _visible_run(request, run_id, who)
    assert job.run_dir is not None
    try:
        out = fresh_report(Path(job.run_dir))
    except MissingDependencyError as exc:
        raise _fail(503, "MissingDependencyError", str(exc)) from exc
    except TcplabError as exc:
        raise _fail(409, "ReportUnavailable", f"run {run_id}: {exc}") from exc
    return FileResponse(out / name, media_type=REPORT_FILES[name])


@data_router.get("/compare", tags=["runs"], response_model=dict[str, Any], responses=_ERRS)
def compare(
    request: Request,
    who: Caller,
    a: Annotated[str, Query(max_length=200, description="Baseline run id.")],
    b: Annotated[str, Query(max_length=200, description="New run id.")],
    arm: Annotated[str | None, Query(max_length=200)] = None,
    threshold: Annotated[float, Query(ge=0, le=10)] = 0.05,
) -> dict[str, Any]:
    """Run B against run A, arm by arm: ``tcplab compare``'s result (latency ratio B/A with
    its bootstrap CI and verdict, accuracy B − A, ``regression``), from the same function."""
    from tcplab.report import compare_runs

    run_a, run_b = (_visible_run(request, r, who).run_dir for r in (a, b))
    assert run_a is not None and run_b is not None
    try:
        return compare_runs(Path(run_a), Path(run_b), arm=arm, threshold=threshold)
    except UsageError as exc:
        raise _fail(409, "UsageError", str(exc)) from exc
    except MissingDependencyError as exc:
        raise _fail(503, "MissingDependencyError", str(exc)) from exc


@data_router.post(
    "/check",
    tags=["check"],
    response_model=CheckResult | CheckBatch,
    responses=_ERRS,
)
def check_lines(body: CheckRequest, who: Caller) -> CheckResult | CheckBatch:
    """Decide a shell command line (``command_line``) or several (``lines``) with
    :func:`tcplab.check.check` against this server's registry (``TCPLAB_HOME``): the decision
    (``allow`` / ``require_approval`` / ``deny``), risk level, capabilities and reasons."""
    from tcplab.check import check

    try:
        if body.command_line is not None:
            return check(body.command_line)
        return CheckBatch(results=[check(line) for line in body.lines or []])
    except MissingDependencyError as exc:
        raise _fail(503, "MissingDependencyError", str(exc)) from exc
