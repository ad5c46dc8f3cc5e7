"""The web dashboard's plumbing: templates, the cookie session, forms, error pages.

A person logs in with an API token (``POST /login``); it is kept in an ``HttpOnly``,
``SameSite=Strict`` cookie (``Secure`` behind HTTPS) and checked on every page exactly like a
bearer token (revoking the token logs the browser out). Forms post URL-encoded bodies; a
POST whose ``Origin`` is another site is refused (403) on top of SameSite. Pages are rendered
on the server (Jinja2, autoescaped); one small script (``static/app.js``) follows progress
over Server-Sent Events. Nothing is loaded from another host.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from tcplab.service._models import TokenRecord
from tcplab.service._tokens import authenticate

__all__ = [
    "COOKIE",
    "PUBLIC_PAGES",
    "NeedLogin",
    "error_page",
    "form",
    "page_caller",
    "render",
    "same_origin",
]

COOKIE = "tcplab_session"
#: dashboard paths answered without a session
PUBLIC_PAGES = frozenset({"/login", "/static/style.css", "/static/app.js"})
_HERE = Path(__file__).parent
STATIC = _HERE / "static"


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def _percent(done: int, total: int) -> int:
    return 100 if total == 0 and done == 0 else int(100 * done / max(total, 1))


_env = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(("html",)),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["when"] = _when
_env.globals["percent"] = _percent


class NeedLogin(Exception):
    """Raised by :func:`page_caller` without a valid session: answered with a redirect."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def login_redirect(exc: NeedLogin) -> RedirectResponse:
    """303 to the login page, remembering where the person was going."""
    return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)


def page_caller(request: Request) -> TokenRecord:
    """The session's token record, else :class:`NeedLogin`."""
    token = request.cookies.get(COOKIE, "")
    record = authenticate(request.app.state.db, token) if token else None
    if record is None:
        raise NeedLogin(request.url.path)
    return record


def render(
    request: Request, template: str, status: int = 200, who: TokenRecord | None = None, **ctx: Any
) -> HTMLResponse:
    """A page from ``templates/``; ``who`` fills the navigation bar."""
    html = _env.get_template(template).render(request=request, who=who, **ctx)
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "style-src 'self' 'unsafe-inline'; frame-ancestors 'self'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def error_page(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    """The HTML error page (the API keeps its JSON errors)."""
    try:
        who = page_caller(request)
    except Exception:  # an error page must render even without a session or a database
        who = None
    return render(request, "error.html", status, who, title=title, message=message, code=status)


async def form(request: Request) -> dict[str, str]:
    """The URL-encoded form of a POST (last value of each field)."""
    body = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def same_origin(request: Request) -> bool:
    """False for a POST that a page of another origin sent."""
    origin = request.headers.get("origin")
    if not origin or origin == "null":
        return origin is None
    host = request.headers.get("host", "")
    return urlsplit(origin).netloc == host


def see_other(path: str) -> Response:
    """303 to ``path`` (after a form post)."""
    return RedirectResponse(path, status_code=303)
