"""The dashboard's pages: login, jobs (filters, live progress, cancel, retry), submit, the
run's report, workers, tokens (admins). Every page but :data:`PUBLIC_PAGES` needs a session."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError

from tcplab.errors import TcplabError
from tcplab.experiment import SpecError
from tcplab.service._auth import can_modify, can_see
from tcplab.service._events import job_events, progress_event
from tcplab.service._jobs import cancel_job, get_job, insert_job, list_jobs, retry_job
from tcplab.service._models import (
    JOB_STATES,
    PRIORITY_CLASSES,
    TERMINAL_STATES,
    JobRecord,
    SubmitRequest,
    TokenRecord,
)
from tcplab.service._submit import build_job
from tcplab.service._tokens import authenticate
from tcplab.service._web import (
    COOKIE,
    STATIC,
    form,
    page_caller,
    render,
    same_origin,
    see_other,
)

__all__ = ["pages"]

pages = APIRouter(include_in_schema=False)
Session = Annotated[TokenRecord, Depends(page_caller)]
PAGE_SIZE = 25
CHOICES = 200  # runs offered by the compare pickers
_STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, detail={"type": "NotFound", "message": f"no {what}"})


def _forbidden(message: str) -> HTTPException:
    return HTTPException(403, detail={"type": "Forbidden", "message": message})


def _safe_next(path: str | None) -> str:
    return path if path and path.startswith("/") and not path.startswith("//") else "/jobs"


@pages.get("/static/{name}")
def static(name: str) -> Response:
    """The dashboard's stylesheet and script (vendored; nothing from another host)."""
    path = STATIC / name
    if path.parent != STATIC or path.suffix not in _STATIC_TYPES or not path.is_file():
        raise _not_found(f"static file {name!r}")
    return Response(
        path.read_bytes(),
        media_type=_STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@pages.get("/")
def home(who: Session) -> Response:
    return see_other("/jobs")


@pages.get("/login")
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=None)


@pages.post("/login")
async def login(request: Request) -> Response:
    """Check the token; on success keep it in an HttpOnly, SameSite=Strict cookie."""
    if not same_origin(request):
        raise _forbidden("a login form of another site")
    fields = await form(request)
    token, target = fields.get("token", "").strip(), _safe_next(fields.get("next"))
    if not token or authenticate(request.app.state.db, token) is None:
        error = "That token is unknown or revoked." if token else "Paste your API token."
        return render(request, "login.html", next=target, error=error)
    response = see_other(target)
    response.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=12 * 3600,
        path="/",
    )
    return response


@pages.post("/logout")
def logout(request: Request) -> Response:
    response = see_other("/login")
    response.delete_cookie(COOKIE, path="/")
    return response


def compare_choices(request: Request, who: TokenRecord) -> list[JobRecord]:
    """The newest jobs with a run that the person may see (what the compare pickers offer)."""
    user = who.username if who.role == "submitter" else None
    found, _ = list_jobs(request.app.state.db, with_run=True, submitted_by=user, limit=CHOICES)
    return found


def _job_for(request: Request, job_id: str, who: TokenRecord) -> JobRecord:
    job = get_job(request.app.state.db, job_id)
    if job is None or not can_see(job, who):
        raise _not_found(f"job {job_id!r}")
    return job


@pages.get("/jobs")
def jobs_page(
    request: Request,
    who: Session,
    state: Annotated[str, Query(max_length=20)] = "",
    priority_class: Annotated[str, Query(max_length=20)] = "",
    submitted_by: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=10**6)] = 1,
) -> HTMLResponse:
    """Jobs the person may see, newest first, with filters and pages."""
    state = state if state in JOB_STATES else ""
    priority_class = priority_class if priority_class in PRIORITY_CLASSES else ""
    user = who.username if who.role == "submitter" else submitted_by.strip()
    found, total = list_jobs(
        request.app.state.db,
        state=state or None,
        priority_class=priority_class or None,
        submitted_by=user or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    filters = {"state": state, "priority_class": priority_class, "submitted_by": submitted_by}
    return render(
        request,
        "jobs.html",
        who=who,
        jobs=[(j, progress_event(j)) for j in found],
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        filters=filters,
        states=JOB_STATES,
        classes=PRIORITY_CLASSES,
    )


@pages.get("/jobs/{job_id}")
def job_page(request: Request, job_id: str, who: Session) -> HTMLResponse:
    """One job: its facts, a live progress bar per arm, cancel / retry, the run's report."""
    job = _job_for(request, job_id, who)
    return render(
        request,
        "job.html",
        who=who,
        job=job,
        event=progress_event(job),
        can_modify=can_modify(job, who),
        finished=job.state in TERMINAL_STATES,
        others=[j for j in compare_choices(request, who) if j.run_id != job.run_id],
    )


@pages.get("/jobs/{job_id}/events")
def job_page_events(request: Request, job_id: str, who: Session) -> StreamingResponse:
    """The job's progress stream for the page's script (session instead of a bearer token)."""
    _job_for(request, job_id, who)
    frames = job_events(request.app.state.db, job_id, request.is_disconnected)
    return StreamingResponse(
        frames, media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@pages.post("/jobs/{job_id}/cancel")
def cancel_page(request: Request, job_id: str, who: Session) -> Response:
    job = _checked_change(request, job_id, who)
    if job.state not in TERMINAL_STATES:
        cancel_job(request.app.state.db, request.app.state.queue, job_id, who.username)
    return see_other(f"/jobs/{job_id}")


@pages.post("/jobs/{job_id}/retry")
def retry_page(request: Request, job_id: str, who: Session) -> Response:
    job = _checked_change(request, job_id, who)
    if job.state in ("failed", "cancelled"):
        retry_job(request.app.state.db, request.app.state.queue, job_id)
    return see_other(f"/jobs/{job_id}")


def _checked_change(request: Request, job_id: str, who: TokenRecord) -> JobRecord:
    if not same_origin(request):
        raise _forbidden("a form of another site")
    job = _job_for(request, job_id, who)
    if not can_modify(job, who):
        raise _forbidden(f"{who.username} ({who.role}) cannot change job {job_id}")
    return job


@pages.get("/submit")
def submit_page(request: Request, who: Session) -> HTMLResponse:
    return render(request, "submit.html", who=who, values={"priority": "5"}, problems=[])


@pages.post("/submit")
async def submit_form(request: Request, who: Session) -> Response:
    """Submit a YAML spec; refused specs come back with the CLI's problems inline."""
    if not same_origin(request):
        raise _forbidden("a form of another site")
    if who.role == "viewer":
        raise _forbidden(f"role viewer ({who.username}) cannot submit jobs")
    values = await form(request)
    problems, message = await _submit(request, who, values)
    if isinstance(problems, str):
        return see_other(f"/jobs/{problems}")
    return render(
        request, "submit.html", who=who, values=values, problems=problems, message=message
    )


async def _submit(
    request: Request, who: TokenRecord, values: dict[str, str]
) -> tuple[list[str] | str, str]:
    """The new (or same-key) job id, else the problems and a one-line message."""
    from starlette.concurrency import run_in_threadpool

    state = request.app.state
    try:
        body = SubmitRequest(
            spec_yaml=values.get("spec_yaml", ""),
            priority=int(values.get("priority") or 5),
            client_key=values.get("client_key") or None,
        )
        record = build_job(body, who.username, state.settings, body.client_key)
        job, _ = await run_in_threadpool(insert_job, state.db, state.queue, record)
    except SpecError as exc:
        return list(exc.problems), str(exc)
    except (ValidationError, ValueError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
        return [str(e["msg"]) for e in errors], "the form is invalid"
    except TcplabError as exc:
        return list(getattr(exc, "problems", ()) or [str(exc)]), str(exc)
    return job.id, ""


@pages.get("/runs/{run_id}/report")
def report_page(request: Request, run_id: str, who: Session) -> HTMLResponse:
    """The run's report.html (built on first view, rebuilt when the run changed)."""
    found, _ = list_jobs(request.app.state.db, run_id=run_id, limit=1)
    job = found[0] if found else None
    if job is None or not can_see(job, who) or not job.run_dir:
        raise _not_found(f"run {run_id!r}")
    try:
        html = _report_html(Path(job.run_dir))
    except TcplabError as exc:
        raise HTTPException(
            409, detail={"type": "ReportUnavailable", "message": f"run {run_id}: {exc}"}
        ) from exc
    return HTMLResponse(html)


def _report_html(run_dir: Path) -> str:
    from tcplab.service._routes_data import fresh_report

    return (fresh_report(run_dir) / "report.html").read_text(encoding="utf-8")
