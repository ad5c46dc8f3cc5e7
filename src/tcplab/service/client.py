"""A thin HTTP client of the API (httpx), used by ``tcplab submit`` and ``tcplab jobs``.

URL from ``--url`` or ``TCPLAB_API_URL`` (default ``http://127.0.0.1:8000``), token from
``--token`` or ``TCPLAB_API_TOKEN``. Errors come back as tcplab errors with the server's one
line (a refused spec as :class:`~tcplab.experiment.SpecError` with every problem).
"""

from __future__ import annotations

import os
from typing import Any

from tcplab.errors import ConfigError, StoreUnavailableError, TcplabError, UsageError
from tcplab.service._data_models import JobLogPage
from tcplab.service._models import JobList, JobView

__all__ = ["DEFAULT_URL", "ApiClient"]

DEFAULT_URL = "http://127.0.0.1:8000"


class ApiClient:
    """``/api/v1`` over HTTP with a bearer token."""

    def __init__(
        self, url: str | None = None, token: str | None = None, timeout: float = 30
    ) -> None:
        try:
            import httpx
        except ImportError as exc:
            from tcplab.errors import MissingDependencyError

            raise MissingDependencyError.for_extra(
                "httpx", "service", "the service client"
            ) from exc
        self.url = (url or os.environ.get("TCPLAB_API_URL") or DEFAULT_URL).rstrip("/")
        token = token or os.environ.get("TCPLAB_API_TOKEN")
        if not token:
            raise UsageError(
                "no API token: pass --token or set TCPLAB_API_TOKEN (tcplab token create)"
            )
        self._http = httpx.Client(
            base_url=self.url + "/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        import httpx

        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ConfigError(
                f"cannot reach the tcplab service at {self.url}: {exc or type(exc).__name__} "
                "(is `tcplab serve` running? set --url or TCPLAB_API_URL)"
            ) from exc
        if response.status_code < 400:
            return response.json()
        try:
            err = response.json()["error"]
            message, problems = f"{err['message']}", list(err.get("problems") or [])
        except (ValueError, KeyError, TypeError):
            message, problems = response.text[:200] or response.reason_phrase, []
        status = response.status_code
        if status == 422:
            from tcplab.experiment import SpecError

            raise SpecError(message, problems)
        if status == 503:
            raise StoreUnavailableError(f"the service is unavailable: {message}")
        if status < 500:
            raise UsageError(f"{message} (HTTP {status})")
        raise TcplabError(f"the service failed: {message} (HTTP {status})")

    def submit(self, body: dict[str, Any], idempotency_key: str | None = None) -> JobView:
        """POST /jobs."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        return JobView.model_validate(self._call("POST", "/jobs", json=body, headers=headers))

    def jobs(self, **params: Any) -> JobList:
        """GET /jobs with filters (None values dropped)."""
        given = {k: v for k, v in params.items() if v is not None}
        return JobList.model_validate(self._call("GET", "/jobs", params=given))

    def job(self, job_id: str) -> JobView:
        """GET /jobs/ID."""
        return JobView.model_validate(self._call("GET", f"/jobs/{job_id}"))

    def cancel(self, job_id: str) -> JobView:
        """POST /jobs/ID/cancel."""
        return JobView.model_validate(self._call("POST", f"/jobs/{job_id}/cancel"))

    def retry(self, job_id: str) -> JobView:
        """POST /jobs/ID/retry."""
        return JobView.model_validate(self._call("POST", f"/jobs/{job_id}/retry"))

    def logs(self, job_id: str, after: int = 0, limit: int = 1000) -> JobLogPage:
        """GET /jobs/ID/logs."""
        params = {"after": after, "limit": limit}
        return JobLogPage.model_validate(self._call("GET", f"/jobs/{job_id}/logs", params=params))

    def get(self, path: str) -> Any:
        """Any GET under /api/v1 (JSON)."""
        return self._call("GET", path)
