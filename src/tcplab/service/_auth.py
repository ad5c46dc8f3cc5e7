"""Who is calling: ``Authorization: Bearer TOKEN`` → the token's user and role; role rules;
the token's rate limit (429 with ``Retry-After``, :mod:`tcplab.service._ratelimit`).
Tokens are looked up through the app's :class:`~tcplab.service._tokens.TokenCache` (a few
seconds, emptied by every revocation) and the bucket is in memory: a request whose token was
seen recently costs no database access before its handler.

Roles: ``viewer`` reads every job and run; ``submitter`` submits, and reads, cancels and
retries its own jobs only (another user's job answers 404, as if absent); ``admin`` does
everything. Every route needs a token except those in :data:`PUBLIC_PATHS`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request

from tcplab.service._models import JobListItem, JobRecord, TokenRecord
from tcplab.service._tokens import TokenCache, authenticate

__all__ = [
    "PUBLIC_PATHS",
    "Caller",
    "caller",
    "can_modify",
    "can_see",
    "require_writer",
    "sees_jobs_of",
]

#: the only routes answered without a token: liveness and readiness probes, and the API's
#: own description (the OpenAPI schema holds no data)
PUBLIC_PATHS = frozenset({"/api/v1/health", "/api/v1/health/ready", "/api/v1/openapi.json"})
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _problem(status: int, kind: str, message: str) -> HTTPException:
    return HTTPException(
        status,
        detail={"type": kind, "message": message},
        headers=_CHALLENGE if status == 401 else None,
    )


def caller(request: Request) -> TokenRecord:
    """The token record of the request (401 when missing, malformed, unknown or revoked)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise _problem(401, "Unauthorized", "missing token: send Authorization: Bearer TOKEN")
    if scheme.lower() != "bearer" or not token.strip():
        raise _problem(401, "Unauthorized", "malformed Authorization header: use Bearer TOKEN")
    cache: TokenCache | None = getattr(request.app.state, "tokens", None)  # while it runs
    record: TokenRecord | None
    if cache is not None:
        record = cache.authenticate(token.strip())
    else:
        record = authenticate(request.app.state.db, token.strip())
    if record is None:
        raise _problem(401, "Unauthorized", "unknown or revoked token")
    limiter = getattr(request.app.state, "limiter", None)
    wait = limiter.take(record) if limiter is not None else 0.0
    if limiter is not None and wait > 0:
        raise HTTPException(
            429,
            detail={
                "type": "RateLimited",
                "message": f"too many requests for this token ({record.role} rate); "
                f"retry in {wait:.2f} s",
            },
            headers={"Retry-After": limiter.retry_after(wait)},
        )
    return record


Caller = Annotated[TokenRecord, Depends(caller)]


def require_writer(who: TokenRecord) -> None:
    """403 for viewers (they only read)."""
    if who.role == "viewer":
        raise _problem(403, "Forbidden", f"role viewer ({who.username}) cannot change jobs")


def sees_jobs_of(who: TokenRecord, username: str) -> bool:
    """Admins and viewers see every user's jobs; submitters their own."""
    return who.role in ("admin", "viewer") or username == who.username


def can_see(job: JobListItem, who: TokenRecord) -> bool:
    """Admins and viewers see every job; submitters their own."""
    return sees_jobs_of(who, job.submitted_by)


def can_modify(job: JobRecord, who: TokenRecord) -> bool:
    """Admins change every job; submitters their own; viewers none."""
    return who.role == "admin" or (who.role == "submitter" and job.submitted_by == who.username)
