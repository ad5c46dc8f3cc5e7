"""The host exporter scraped by a real Prometheus (Debian's `prometheus`, on a free loopback
port) that also loads the shipped alert rules: the host metrics arrive under the names the
rules use, and every rule evaluates without error against live data."""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: tcplab-worker
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _get(url: str) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _wait(probe: Callable[[], Any], limit: float = 90.0) -> Any:
    """Poll ``probe`` until it returns something truthy; the limit only guards a hang."""
    end = time.monotonic() + limit
    while True:
        value = probe()
        if value:
            return value
        assert time.monotonic() < end, "Prometheus never answered as expected"
        time.sleep(0.5)


@contextlib.contextmanager
def _exporter() -> Iterator[int]:
    from prometheus_client import CollectorRegistry, start_http_server

    from tcplab.monitor._prom import HostCollector

    registry = CollectorRegistry(auto_describe=True)
    collector = HostCollector()
    registry.register(collector)  # type: ignore[arg-type]
    port = _free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        collector.close()


@contextlib.contextmanager
def _prometheus(tmp: Path, target_port: int, text: str | None = None) -> Iterator[str]:
    """A Prometheus on a free port with ``text`` as its configuration (default: scrape the
    exporter at ``target_port`` as ``tcplab-worker``, with the shipped rules)."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    config = tmp / "prometheus.yml"
    config.write_text(text or CONFIG.format(rules=DEPLOY / "alerts.yml", port=target_port))
    port = _free_port()
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)


def _query(base: str, promql: str) -> list[dict[str, Any]]:
    doc = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    return list(doc["data"]["result"]) if doc and doc.get("status") == "success" else []


def test_prometheus_scrapes_host_metrics_and_evaluates_every_rule(tmp_path: Path) -> None:
    with _exporter() as port, _prometheus(tmp_path, port) as base:
        ratio = _wait(
            lambda: _query(base, "tcplab_host_disk_free_bytes / tcplab_host_disk_total_bytes")
        )
        assert 0.0 < float(ratio[0]["value"][1]) <= 1.0
        (up,) = _wait(lambda: _query(base, 'up{job="tcplab-worker"}'))
        assert up["value"][1] == "1"
        cpu = _wait(lambda: _query(base, "tcplab_host_cpu_busy_percent"))
        assert 0.0 <= float(cpu[0]["value"][1]) <= 100.0
        gpu = _query(base, 'tcplab_host_source_available{source="gpu"}')
        assert gpu and (gpu[0]["value"][1] == "1" or gpu[0]["metric"]["reason"])

        def evaluated() -> list[dict[str, Any]] | None:
            doc = _get(f"{base}/api/v1/rules")
            if not doc:
                return None
            rules = [r for g in doc["data"]["groups"] for r in g["rules"]]
            done = all(r.get("lastEvaluation", "").startswith("20") for r in rules)
            return rules if rules and done else None

        rules = _wait(evaluated)
        assert len(rules) == 8
        bad = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
        assert not bad, bad
