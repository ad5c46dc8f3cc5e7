"""Where a run was measured from: region and provider as configured, and the network
round-trip time to each LLM endpoint, probed before timing starts.

Region and provider come from ``TCPLAB_REGION`` and ``TCPLAB_PROVIDER`` (set by the deployment,
e.g. the Kubernetes worker's environment) and are recorded exactly as given; nothing is guessed
from the host, an IP address or a metadata service. Unset, they are recorded as ``None``.

The probe opens ``RTT_SAMPLES`` TCP connections to each distinct endpoint of the spec's arms
(``base_url`` in an arm's description: the llm arm) and, for ``https``, completes a TLS handshake
on each; the connect time approximates one network round trip, the handshake adds one or two
more. A failure is recorded with its reason; it never stops the run.
"""

from __future__ import annotations

import os
import socket
import ssl
import statistics
import time
from typing import Any
from urllib.parse import urlsplit

__all__ = ["RTT_SAMPLES", "collect_location", "probe_endpoint"]

RTT_SAMPLES = 5
_TIMEOUT_S = 3.0


def _ms(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "samples_ms": [round(s, 3) for s in samples],
    }


def _origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of ``url``; credentials, path and query are dropped."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def probe_endpoint(
    url: str, samples: int = RTT_SAMPLES, timeout: float = _TIMEOUT_S
) -> dict[str, Any]:
    """TCP connect (and TLS handshake for https) times to ``url``'s host, in milliseconds."""
    try:
        scheme, host, port = _origin(url)
    except ValueError as exc:
        return {"endpoint": None, "error": str(exc)}
    out: dict[str, Any] = {"endpoint": f"{scheme}://{host}:{port}", "samples": samples}
    connect: list[float] = []
    handshake: list[float] = []
    context = ssl.create_default_context() if scheme == "https" else None
    try:
        for _ in range(samples):
            t0 = time.perf_counter()
            with socket.create_connection((host, port), timeout=timeout) as sock:
                t1 = time.perf_counter()
                connect.append((t1 - t0) * 1000)
                if context is not None:
                    with context.wrap_socket(sock, server_hostname=host):
                        handshake.append((time.perf_counter() - t1) * 1000)
    except (OSError, ssl.SSLError) as exc:
        out["error"] = f"{type(exc).__name__}: {exc}"
    if connect:
        out["tcp_connect"] = _ms(connect)
    if handshake:
        out["tls_handshake"] = _ms(handshake)
    return out


def _endpoints(arms: list[dict[str, Any]]) -> list[str]:
    urls: list[str] = []
    for arm in arms:
        url = (arm.get("describe") or {}).get("base_url")
        if isinstance(url, str) and url not in urls:
            urls.append(url)
    return urls


def collect_location(arms: list[dict[str, Any]], *, probe: bool = True) -> dict[str, Any]:
    """``{"region", "provider", "network_rtt": [...]}`` for ``run.json``.

    Args:
        arms: the preflight's arm descriptions (``run.json`` ``arms``).
        probe: measure the endpoints (``TCPLAB_RTT_PROBE=0`` turns it off as well).
    """
    region = os.environ.get("TCPLAB_REGION") or None
    provider = os.environ.get("TCPLAB_PROVIDER") or None
    enabled = probe and os.environ.get("TCPLAB_RTT_PROBE", "1").lower() not in {"0", "off", "no"}
    rtt = [probe_endpoint(u) for u in _endpoints(arms)] if enabled else []
    return {"region": region, "provider": provider, "network_rtt": rtt}
