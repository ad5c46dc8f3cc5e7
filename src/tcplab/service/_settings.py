"""Service settings: database, listen address, lease, retries, size limits.

Environment variables use the ``TCPLAB_SERVICE_`` prefix (``TCPLAB_SERVICE_LEASE_SECONDS=30``);
the database comes from ``TCPLAB_SERVICE_DATABASE_URL``, else ``TCPLAB_DATABASE_URL`` (the
store's database). The service needs PostgreSQL: the queue lives there.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from tcplab.config import get_settings
from tcplab.errors import ConfigError

__all__ = ["MAX_SPEC_BYTES", "ServiceSettings", "load_settings"]

#: the CLI's spec size limit (tcplab.experiment._spec.MAX_SPEC_BYTES; a test pins the two),
#: repeated here so that importing the settings does not import the experiment engine
MAX_SPEC_BYTES = 1024 * 1024


class ServiceSettings(BaseSettings):
    """Everything ``tcplab serve`` and ``tcplab worker`` read.

    Attributes:
        database_url: PostgreSQL URL (``postgresql://user:pw@host:5432/db``).
        lease_seconds: a running job whose worker sent no heartbeat for this long is
            claimed again (workers heartbeat every third of it).
        max_attempts: executions of one job, all causes together (errors, lost workers).
        retry_backoff_seconds: wait before the first retry after an error; doubles each
            time, at most ``retry_backoff_max_seconds``.
        max_request_bytes: largest HTTP request body accepted (413 above).
        max_spec_bytes: largest spec accepted (the CLI's limit, 1 MiB).
        runs_dir: where workers create run directories (default ``TCPLAB_HOME/runs``).
        spec_dir: base of relative ``corpus``/``labels`` paths in submitted specs
            (default ``TCPLAB_HOME``).
        worker_metrics_port: a worker serves its own ``/metrics`` on this port (0: any free
            port; None: no exporter).
        rate_viewer_per_s, rate_submitter_per_s, rate_admin_per_s: requests per second a
            token of that role may make (token bucket; 0 = unlimited).
        rate_burst_seconds: the bucket holds this many seconds' worth of requests.
        db_pool_size: database connections an API process keeps open per pool (as many again
            may open under a burst).
        token_cache_seconds: an API process remembers a live token this long (emptied at
            once by every revocation; 0: read the token table on every request).
    """

    model_config = SettingsConfigDict(env_prefix="TCPLAB_SERVICE_", extra="ignore")

    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    lease_seconds: float = Field(default=30.0, ge=1.0, le=3600.0)
    poll_seconds: float = Field(default=2.0, gt=0, le=60.0)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_backoff_seconds: float = Field(default=5.0, ge=0, le=3600.0)
    retry_backoff_max_seconds: float = Field(default=300.0, ge=0, le=86400.0)
    max_request_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_spec_bytes: int = Field(default=MAX_SPEC_BYTES, ge=1024)
    runs_dir: Path | None = None
    spec_dir: Path | None = None
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    worker_metrics_host: str = "127.0.0.1"
    rate_viewer_per_s: float = Field(default=50.0, ge=0)
    rate_submitter_per_s: float = Field(default=50.0, ge=0)
    rate_admin_per_s: float = Field(default=200.0, ge=0)
    rate_burst_seconds: float = Field(default=2.0, gt=0, le=3600.0)
    db_pool_size: int = Field(default=10, ge=1, le=200)
    token_cache_seconds: float = Field(default=5.0, ge=0, le=60.0)

    def postgres_url(self) -> str:
        """The database URL, which must be PostgreSQL.

        Raises:
            ConfigError: no URL, or not PostgreSQL.
        """
        url = self.database_url or os.environ.get("TCPLAB_DATABASE_URL") or ""
        scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
        if scheme not in ("postgresql", "postgres"):
            shown = url.split("://", 1)[0] + "://…" if url else "nothing"
            raise ConfigError(
                f"the experiment service needs PostgreSQL (its queue lives there), got {shown}: "
                "set TCPLAB_DATABASE_URL=postgresql://USER:PASSWORD@HOST:5432/DB"
            )
        return url

    def resolved_runs_dir(self) -> Path:
        """``runs_dir`` or ``TCPLAB_HOME/runs``."""
        return self.runs_dir or get_settings().home / "runs"

    def resolved_spec_dir(self) -> Path:
        """``spec_dir`` or ``TCPLAB_HOME``."""
        return self.spec_dir or get_settings().home


def load_settings(**overrides: object) -> ServiceSettings:
    """Settings from the environment, with ``overrides`` (None values ignored).

    Raises:
        ConfigError: an invalid value (one line).
    """
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return ServiceSettings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid service setting {where}: {first['msg']}") from exc
