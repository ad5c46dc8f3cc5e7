"""Dashboard pages about the deployment: workers (alive, current job, last heartbeat) and
tokens (admins: list, create — shown once —, revoke)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from tcplab.errors import UsageError
from tcplab.service import _pages_compare  # noqa: F401 (its routes join the dashboard's)
from tcplab.service._jobs import now
from tcplab.service._models import ROLES, TokenRecord
from tcplab.service._pages import Session, _forbidden, pages
from tcplab.service._tokens import create_token, list_tokens, revoke_token
from tcplab.service._web import form, render, same_origin, see_other

__all__: list[str] = []

_WORKERS_SQL = """
SELECT w.id, w.last_heartbeat, j.id AS job_id, j.name AS job_name, j.worker AS worker_name
FROM procrastinate_workers AS w
LEFT JOIN procrastinate_jobs AS pj ON pj.worker_id = w.id AND pj.status = 'doing'
LEFT JOIN jobs AS j ON j.queue_job_id = pj.id
ORDER BY w.id, j.id
"""


def _workers(request: Request) -> list[dict[str, Any]]:
    lease = timedelta(seconds=request.app.state.settings.lease_seconds)
    with request.app.state.db.begin() as conn:
        rows = conn.exec_driver_sql(_WORKERS_SQL).mappings().all()
    out: dict[int, dict[str, Any]] = {}
    for row in rows:
        w = out.setdefault(
            row["id"],
            {
                "id": row["id"],
                "name": row["worker_name"],
                "last_heartbeat": row["last_heartbeat"],
                "alive": now() - row["last_heartbeat"] <= lease,
                "jobs": [],
            },
        )
        if row["job_id"]:
            w["jobs"].append((row["job_id"], row["job_name"]))
            w["name"] = w["name"] or row["worker_name"]
    return list(out.values())


@pages.get("/workers")
def workers_page(request: Request, who: Session) -> HTMLResponse:
    """Registered workers: alive (heartbeat within the lease), current jobs, last heartbeat."""
    return render(request, "workers.html", who=who, workers=_workers(request))


def _admin(request: Request, who: TokenRecord) -> None:
    if who.role != "admin":
        raise _forbidden(f"the tokens page is for admins; {who.username} is {who.role}")
    if request.method == "POST" and not same_origin(request):
        raise _forbidden("a form of another site")


@pages.get("/tokens")
def tokens_page(request: Request, who: Session) -> HTMLResponse:
    _admin(request, who)
    tokens = list_tokens(request.app.state.db)
    return render(request, "tokens.html", who=who, tokens=tokens, roles=ROLES, created=None)


@pages.post("/tokens")
async def token_create(request: Request, who: Session) -> HTMLResponse:
    """A new token, shown once on the answer page."""
    _admin(request, who)
    fields = await form(request)
    created, error = None, None
    try:
        created = create_token(
            request.app.state.db,
            fields.get("username", ""),
            fields.get("role", ""),
            fields.get("name", "")[:200],
            created_by=who.username,
        )
    except UsageError as exc:
        error = str(exc)
    tokens = list_tokens(request.app.state.db)
    return render(
        request, "tokens.html", who=who, tokens=tokens, roles=ROLES, created=created, error=error
    )


@pages.post("/tokens/{token_id}/revoke")
def token_revoke(request: Request, token_id: str, who: Session) -> Response:
    _admin(request, who)
    try:
        revoke_token(request.app.state.db, token_id)
    except UsageError as exc:
        raise HTTPException(404, detail={"type": "NotFound", "message": str(exc)}) from exc
    return see_other("/tokens")
