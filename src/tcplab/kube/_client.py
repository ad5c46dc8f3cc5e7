"""The Kubernetes API client (lightkube), its namespace, and error translation.

lightkube is imported here and nowhere at import time of :mod:`tcplab.kube`: a missing one
names ``pip install 'tcplab[kube]'``. Its errors become :class:`KubernetesError` at this
boundary.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from tcplab.errors import MissingDependencyError, TcplabError
from tcplab.kube._settings import IN_CLUSTER_NAMESPACE, KubeSettings

__all__ = ["KubernetesError", "api_errors", "make_client", "resolve_namespace", "status_code"]


class KubernetesError(TcplabError):
    """The Kubernetes API refused or failed a call; the message has its status and reason."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def _lightkube() -> Any:
    try:
        import lightkube
    except ImportError as exc:
        raise MissingDependencyError.for_extra(
            "lightkube", "kube", "the kubernetes backend"
        ) from exc
    return lightkube


def _config(settings: KubeSettings) -> Any:
    from lightkube import KubeConfig

    if settings.kubeconfig:
        return KubeConfig.from_file(settings.kubeconfig)
    return KubeConfig.from_env()  # in-cluster service account, else $KUBECONFIG / ~/.kube/config


def resolve_namespace(settings: KubeSettings, config: Any = None) -> str:
    """``TCPLAB_KUBE_NAMESPACE``, else the pod's own namespace, else the kubeconfig context's."""
    if settings.namespace:
        return settings.namespace
    with contextlib.suppress(OSError):
        ns = IN_CLUSTER_NAMESPACE.read_text().strip()
        if ns:
            return ns
    ctx_ns = getattr(getattr(config, "context", None), "namespace", None) if config else None
    if ctx_ns:
        return str(ctx_ns)
    raise KubernetesError(
        "no namespace: set TCPLAB_KUBE_NAMESPACE (or a namespace in the kubeconfig context)"
    )


def make_client(settings: KubeSettings) -> tuple[Any, str]:
    """A lightkube client for the settings and the namespace it works in."""
    _lightkube()
    from lightkube import Client

    with api_errors("reading the kubeconfig"):
        config = _config(settings)
        single = config.get() if hasattr(config, "get") else config
    namespace = resolve_namespace(settings, single)
    with api_errors("connecting"):
        client = Client(config, namespace=namespace, field_manager="tcplab", trust_env=False)
    return client, namespace


def status_code(exc: BaseException) -> int | None:
    """The HTTP status of a lightkube ApiError (None for anything else)."""
    status = getattr(exc, "status", None)
    code = getattr(status, "code", None)
    return int(code) if isinstance(code, int) else None


@contextlib.contextmanager
def api_errors(action: str) -> Iterator[None]:
    """Turn lightkube / transport / kubeconfig errors into :class:`KubernetesError`."""
    from lightkube import ApiError, ConfigError

    try:
        yield
    except ApiError as exc:
        code = status_code(exc)
        reason = getattr(exc.status, "reason", None) or ""
        message = getattr(exc.status, "message", None) or str(exc)
        raise KubernetesError(f"{action}: {code} {reason}: {message}", code) from exc
    except ConfigError as exc:
        raise KubernetesError(f"{action}: kubeconfig: {exc}") from exc
    except OSError as exc:
        raise KubernetesError(f"{action}: {exc}") from exc
    except Exception as exc:
        if type(exc).__module__.split(".")[0] not in {"httpx", "httpx2", "httpcore"}:
            raise
        response = getattr(exc, "response", None)
        code = getattr(response, "status_code", None) if response is not None else None
        if isinstance(code, int):  # an HTTP error without a Kubernetes Status body
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise KubernetesError(f"{action}: {code}: {first}", code) from exc
        raise KubernetesError(f"{action}: cannot reach the API server: {exc}") from exc
