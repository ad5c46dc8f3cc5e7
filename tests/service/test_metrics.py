"""``/metrics`` scraped by a real Prometheus (Debian's ``prometheus``, started here on a free
loopback port with a temporary config and storage) and queried through its HTTP API."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from ..store.conftest import need
from .conftest import Stack, fake_spec, free_port, wait_for

SCRAPE_CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tcplab
    metrics_path: /metrics
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs:
      - targets: ["{target}"]
"""


@contextlib.contextmanager
def prometheus(tmp: Path, target: str, token: str) -> Iterator[str]:
    """A Prometheus scraping ``target`` every second with ``token``; its base URL."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    need(binary is not None and promtool is not None, "prometheus is not installed")
    assert binary is not None and promtool is not None
    token_file = tmp / "scrape.token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    config = tmp / "prometheus.yml"
    config.write_text(SCRAPE_CONFIG.format(token_file=token_file, target=target))
    check = subprocess.run([promtool, "check", "config", str(config)], capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    port = free_port()
    with open(tmp / "prometheus.log", "wb") as log:
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
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


def _query(base: str, promql: str) -> dict[str, float] | None:
    """``{label-values: value}`` of an instant vector, or None while Prometheus is not up."""
    try:
        r = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    except httpx.TransportError:
        return None
    if r.status_code != 200:
        return None
    out = {}
    for sample in r.json()["data"]["result"]:
        labels = sample["metric"]
        out[labels.get("priority", labels.get("job", ""))] = float(sample["value"][1])
    return out


def _target_health(base: str) -> Any:
    with contextlib.suppress(httpx.TransportError):
        targets = httpx.get(f"{base}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        return targets and targets[0]
    return None


def test_prometheus_scrapes_queue_depth(stack: Stack, tmp_path: Path) -> None:
    stack.serve()
    submitter, scraper = stack.token("alice"), stack.token("prometheus", "viewer")
    with stack.client(submitter) as http:
        for priority in (10, 9, 9, 7, 2, 0, 1):
            r = http.post("/jobs", json={"spec": fake_spec(n_tools=2), "priority": priority})
            assert r.status_code == 201, r.text
    assert httpx.get(f"{stack.base}/metrics", timeout=10).status_code == 401
    target = stack.base.removeprefix("http://")
    with prometheus(tmp_path, target, scraper) as prom:
        expected = {"critical": 3.0, "high": 1.0, "normal": 0.0, "low": 3.0}

        def depth() -> bool:
            return _query(prom, "tcplab_queue_depth") == expected

        try:
            wait_for("Prometheus to scrape the queue depth", depth, timeout=60)
        except AssertionError:
            raise AssertionError(
                f"{_target_health(prom)}\n{(tmp_path / 'prometheus.log').read_text()[-3000:]}"
            ) from None
        health = _target_health(prom)
        assert health["health"] == "up", health
        assert _query(prom, "tcplab_jobs_running") == {"tcplab": 0.0}
        latency = "sum(tcplab_api_request_duration_seconds_count{route='/api/v1/jobs'})"
        assert wait_for("the submits' latency", lambda: _query(prom, latency)) == {"": 7.0}
