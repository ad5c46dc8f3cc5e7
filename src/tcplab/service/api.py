"""The HTTP API (FastAPI, versioned under ``/api/v1``): :func:`create_app`.

Errors have one shape (:class:`~tcplab.service._models.ErrorBody`): a type, one line, and every
problem — a refused spec answers 422 with the CLI's own problems and YAML paths. Bodies above
``max_request_bytes`` answer 413 before they are read whole. The database connects when the
app starts (lifespan), never at construction, so ``create_app(settings).openapi()`` needs none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

from tcplab.service._db import require_service_deps

require_service_deps("the experiment service API")

from fastapi import FastAPI, Request  # noqa: E402
from fastapi.exceptions import RequestValidationError  # noqa: E402
from fastapi.responses import JSONResponse, RedirectResponse, Response  # noqa: E402
from starlette.concurrency import run_in_threadpool  # noqa: E402
from starlette.exceptions import HTTPException as StarletteHTTPException  # noqa: E402

from tcplab.errors import LabelsError, StoreUnavailableError  # noqa: E402
from tcplab.experiment import SpecError  # noqa: E402
from tcplab.service._auth import Caller  # noqa: E402
from tcplab.service._db import ServiceDB  # noqa: E402
from tcplab.service._metrics import RequestTimer, new_registry  # noqa: E402
from tcplab.service._models import ErrorBody, ErrorDetail  # noqa: E402
from tcplab.service._pages import pages  # noqa: E402
from tcplab.service._pages_admin import __name__ as _admin_pages  # noqa: E402, F401 (routes)
from tcplab.service._queue import make_queue_app  # noqa: E402
from tcplab.service._ratelimit import RateLimiter  # noqa: E402
from tcplab.service._routes import router  # noqa: E402
from tcplab.service._routes_data import data_router  # noqa: E402
from tcplab.service._settings import ServiceSettings, load_settings  # noqa: E402
from tcplab.service._tokens import TokenCache  # noqa: E402
from tcplab.service._web import NeedLogin, error_page, login_redirect  # noqa: E402

__all__ = ["API_PREFIX", "app_from_env", "create_app", "openapi_text"]

API_PREFIX = "/api/v1"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


def _error(
    status: int, kind: str, message: str, problems: list[str] | None = None, headers: Any = None
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(type=kind, message=message, problems=problems or []))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: 413 for a body larger than ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(413, "RequestTooLarge", f"request body larger than {self.limit:,} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message: Message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await too_big(scope, receive, send)


class _TooLarge(Exception):
    """Internal to :class:`BodyLimit`: the streamed body passed the limit."""


def _is_page(request: Request) -> bool:
    """A dashboard path (HTML errors) rather than the API or /metrics (JSON errors)."""
    path = request.url.path
    return not (path.startswith(API_PREFIX + "/") or path in (API_PREFIX, "/metrics"))


_TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict"}


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        d: dict[str, Any] = (
            exc.detail
            if isinstance(exc.detail, dict)
            else {"type": "HTTPError", "message": str(exc.detail)}
        )
        if _is_page(request):
            title = _TITLES.get(exc.status_code, "Something went wrong")
            return await run_in_threadpool(
                error_page, request, exc.status_code, title, d["message"]
            )
        return _error(exc.status_code, d["type"], d["message"], d.get("problems"), exc.headers)

    @app.exception_handler(NeedLogin)
    async def _login(request: Request, exc: NeedLogin) -> RedirectResponse:
        return login_redirect(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        if _is_page(request):
            return await run_in_threadpool(
                error_page, request, 400, "Bad request", "; ".join(problems)
            )
        return _error(422, "RequestValidationError", "the request is invalid", problems)

    @app.exception_handler(SpecError)
    async def _spec(request: Request, exc: SpecError) -> JSONResponse:
        return _error(422, "SpecError", str(exc), list(exc.problems))

    @app.exception_handler(LabelsError)
    async def _labels(request: Request, exc: LabelsError) -> JSONResponse:
        return _error(422, "LabelsError", str(exc), list(exc.problems))

    @app.exception_handler(StoreUnavailableError)
    async def _down(request: Request, exc: StoreUnavailableError) -> JSONResponse:
        return _error(503, "StoreUnavailableError", str(exc))


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The API application for ``settings`` (default: from the environment)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = ServiceDB(settings.postgres_url(), pool_size=settings.db_pool_size)
        db.migrate()
        queue = make_queue_app(settings, asynchronous=False)
        queue.open()
        app.state.db, app.state.queue, app.state.settings = db, queue, settings
        app.state.tokens = TokenCache(db, ttl_s=settings.token_cache_seconds)
        app.state.tokens.start()
        host = _host_collector(app, settings)
        _freeze_startup_objects()
        try:
            yield
        finally:
            if host is not None:
                app.state.registry.unregister(host)
                host.close()
            app.state.tokens.close()
            queue.close()
            db.close()

    app = FastAPI(
        title="tcplab experiment service",
        version="1",
        summary="Submit experiments, follow their jobs, read their runs.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(data_router, prefix=API_PREFIX)
    app.include_router(pages)
    _handlers(app)
    _metrics_route(app, settings)
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    return app


def _metrics_route(app: FastAPI, settings: ServiceSettings) -> None:
    """``GET /metrics`` (any valid token: give Prometheus a viewer token), the latency
    middleware feeding it, the rate limiter and its counter, the host and LLM collectors."""
    from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

    from tcplab.monitor import llm_collectors

    registry, latency = new_registry(lambda: getattr(app.state, "db", None))
    app.add_middleware(RequestTimer, latency=latency, prefixes=(API_PREFIX,))
    limited = Counter(
        "tcplab_api_rate_limited",
        "API requests refused with 429 by the per-token rate limit, by the token's role",
        ["role"],
        registry=registry,
    )
    app.state.limiter = RateLimiter(settings, limited)
    app.state.registry = registry  # the host collector joins it at startup (lifespan)
    for collector in llm_collectors():
        registry.register(collector)

    @app.get(
        "/metrics",
        tags=["metrics"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}, 401: {"model": ErrorBody}},
    )
    def metrics(who: Caller) -> Response:
        """Prometheus metrics: queue depth per priority class, running jobs, job durations by
        outcome, trials done per arm, API latency (text exposition format)."""
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _freeze_startup_objects() -> None:
    """Move what the start-up allocated (modules, the app, pools: ~150,000 objects) out of the
    cyclic garbage collector's reach (``gc.freeze``), so that its full collections, which the
    requests' allocations trigger every few seconds, no longer walk them: they took 30-40 ms
    here each, a pause every request in flight waits for (the load's p99)."""
    import gc

    gc.collect()
    gc.freeze()


def _host_collector(app: FastAPI, settings: ServiceSettings) -> Any:
    """The sampler's host sources on ``/metrics`` (``tcplab_host_*``)."""
    from tcplab.monitor import HostCollector

    host = HostCollector(disk_path=settings.resolved_runs_dir().parent)
    app.state.registry.register(host)
    return host


def openapi_text(settings: ServiceSettings | None = None) -> str:
    """The OpenAPI schema as committed in docs/openapi.json (sorted keys, 2-space indent)."""
    import json

    settings = settings or ServiceSettings(database_url="postgresql://unused@127.0.0.1/unused")
    return json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True) + "\n"


def app_from_env() -> FastAPI:
    """``uvicorn --factory tcplab.service.api:app_from_env``."""
    return create_app(load_settings())
