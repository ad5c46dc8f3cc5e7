"""Where results go: database and artifact URLs from options, environment or defaults.

``TCPLAB_DATABASE_URL`` (SQLAlchemy URL; default SQLite file ``TCPLAB_HOME/tcplab.sqlite``),
``TCPLAB_ARTIFACTS_URL`` (a directory or ``s3://bucket/prefix``; default
``TCPLAB_HOME/artifacts``) and ``TCPLAB_S3_ENDPOINT_URL`` (MinIO, SeaweedFS...).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

from tcplab.config import get_settings
from tcplab.errors import MissingDependencyError

__all__ = ["artifacts_url", "database_url", "redact_url", "require"]


def database_url(url: str | None = None) -> str:
    """The SQLAlchemy URL to use: ``url``, else ``TCPLAB_DATABASE_URL``, else the SQLite file."""
    if url:
        return url
    env = os.environ.get("TCPLAB_DATABASE_URL")
    if env:
        return env
    home = get_settings().home
    return f"sqlite:///{home / 'tcplab.sqlite'}"


def artifacts_url(url: str | None = None) -> str:
    """Artifact location: ``url``, else ``TCPLAB_ARTIFACTS_URL``, else ``TCPLAB_HOME/artifacts``."""
    if url:
        return url
    env = os.environ.get("TCPLAB_ARTIFACTS_URL")
    if env:
        return env
    return str(get_settings().home / "artifacts")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    creds, _, host = rest.partition("@")
    user, colon, _pw = creds.partition(":")
    return f"{scheme}://{user}{':***' if colon else ''}@{host}"


def require(module: str, package: str, extra: str, feature: str) -> ModuleType:
    """Import an optional dependency or raise :class:`MissingDependencyError` naming the extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError.for_extra(package, extra, feature) from exc
