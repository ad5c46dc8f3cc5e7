"""Every PromQL expression of the shipped Grafana dashboards and alert rules, run against a
live Prometheus (Debian's) scraping a real `tcplab serve` and a real `tcplab worker` (its own
/metrics) after a small experiment with a `fake` arm and an `llm` arm (a real local
OpenAI-compatible server that answers, rate-limits and refuses).

A dashboard expression must return at least one series; an alert expression must evaluate, and
each series selector in it must return data. The one exception: a host metric whose source
does not measure on this machine (no GPU, no sensors) may be empty, and then Prometheus must
show that source as unavailable with its reason.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ..analyzers.llm_servers import FaultServer
from ..service.conftest import Stack, fake_spec, free_port, pg_schema, wait_for
from .helpers import man_corpus
from .test_prometheus_live import DEPLOY, _prometheus, _query

GRAFANA = DEPLOY.parent / "grafana"
CONFIG = """\
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ["{rules}"]
scrape_configs:
  - job_name: tcplab
    authorization:
      type: Bearer
      credentials_file: {token_file}
    static_configs:
      - targets: ["127.0.0.1:{api_port}"]
  - job_name: tcplab-worker
    static_configs:
      - targets: ["127.0.0.1:{worker_port}"]
"""
#: host metrics that need a source which a machine may lack
NEEDS_SOURCE = {
    "tcplab_host_gpu_": "gpu",
    "tcplab_host_temperature_": "temperature",
    "tcplab_host_cpu_frequency": "cpufreq",
}
SELECTOR = re.compile(r"\b(tcplab_[a-z0-9_]+|up)\b(\{[^}]*\})?")


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(GRAFANA.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(f"{path.stem}: {panel['title']}", t["expr"]) for t in panel["targets"]]
    return out


def alert_exprs() -> list[tuple[str, str]]:
    doc = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    return [(r["alert"], r["expr"]) for g in doc["groups"] for r in g["rules"]]


def test_dashboards_are_the_generators_output() -> None:
    spec = importlib.util.spec_from_file_location("gen", GRAFANA / "generate.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    assert sorted(p.stem for p in GRAFANA.glob("*.json")) == sorted(gen.DASHBOARDS)
    for uid in gen.DASHBOARDS:
        assert (GRAFANA / f"{uid}.json").read_text() == gen.render(uid), uid
        board = json.loads(gen.render(uid))
        ids = [p["id"] for p in board["panels"]]
        assert len(ids) == len(set(ids)) and all(p["targets"] for p in board["panels"])


LLM_TOOLS = ["ok-a", "ok-b", "flaky429-1-c", "e400-d"]  # answers; a 429 then an answer; 400


def _corpus(home: Path) -> Path:
    return man_corpus(home, LLM_TOOLS)


def _llm_spec(base_url: str, corpus: Path) -> dict[str, Any]:
    spec = fake_spec(name="llm", n_tools=1, corpus=str(corpus))
    spec["tools"] = {"kind": "list", "names": LLM_TOOLS}
    spec["arms"] = [
        {
            "name": "llm",
            "analyzer": "llm",
            "params": {
                "base_url": base_url,
                "model": "fault-model",
                "transport": "http",
                "max_retries": 2,
                "backoff_base": 0.01,
                "cache": "off",
            },
        }
    ]
    return spec


@pytest.fixture
def live(tmp_path: Path) -> Iterator[tuple[str, Stack]]:
    """Prometheus scraping an API and a worker that ran a fake and an llm job."""
    with pg_schema() as url:
        (tmp_path / "home").mkdir()
        stack = Stack(url, tmp_path / "home")
        llm = FaultServer().start()
        try:
            api_port = int(stack.serve(TCPLAB_SERVICE_RATE_VIEWER_PER_S="1").rsplit(":", 1)[1])
            admin = stack.token("root", "admin")
            worker_port = free_port()
            stack.worker(1, 0, "--metrics-port", str(worker_port))
            _jobs(stack, admin, llm.base_url)
            _noise(stack, stack.token("vera", "viewer"))
            token_file = tmp_path / "token"
            token_file.write_text(admin)
            config = CONFIG.format(
                rules=DEPLOY / "alerts.yml",
                token_file=token_file,
                api_port=api_port,
                worker_port=worker_port,
            )
            with _prometheus(tmp_path, 0, config) as base:
                yield base, stack
        finally:
            llm.stop()
            stack.close()


def _jobs(stack: Stack, token: str, llm_url: str) -> None:
    with stack.client(token) as http:
        ids = [
            http.post("/jobs", json={"spec": spec}).json()["id"]
            for spec in (fake_spec(n_tools=4), _llm_spec(llm_url, _corpus(stack.home)))
        ]
    for job_id in ids:
        done = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"), 120)
        assert done.state == "succeeded", (done.reason, stack.log("worker-0.log"))


def _noise(stack: Stack, viewer: str) -> None:
    """A 404 and some 429s, so the error and rate-limit panels have their series."""
    with stack.client(viewer) as http:
        assert http.get("/jobs/job-nope").status_code == 404
        codes = [http.get("/whoami").status_code for _ in range(6)]
    assert 429 in codes, codes


def _unavailable(base: str, selector: str) -> str | None:
    """The reason Prometheus shows for the source a host metric needs, if it is off here."""
    for prefix, source in NEEDS_SOURCE.items():
        if selector.startswith(prefix):
            rows = _query(base, f'tcplab_host_source_available{{source="{source}"}}')
            off = [r for r in rows if r["value"][1] == "0"]
            return off[0]["metric"].get("reason", "?") if off else None
    return None


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/-/ready", timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def _evaluates(base: str, expr: str) -> bool:
    doc = httpx.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    return bool(doc.get("status") == "success")


def test_every_dashboard_and_alert_expression_returns_data(live: tuple[str, Stack]) -> None:
    base, _ = live
    boards, alerts = dashboard_exprs(), alert_exprs()
    assert len(boards) >= 30 and len(alerts) == 8
    wait_for("Prometheus to be ready", lambda: _ready(base), 60)
    for _, expr in boards + alerts:
        assert _evaluates(base, expr), expr

    def empty() -> list[str]:
        missing = []
        for where, expr in boards:
            if not _query(base, expr):
                missing.append(f"{where}: {expr}")
        for where, expr in alerts:
            missing += [
                f"{where}: {m.group(0)}"
                for m in SELECTOR.finditer(expr)
                if not _query(base, m.group(0))
            ]
        return missing

    wait_for("every expression to return data", lambda: not _explained(base, empty()), 60)
    left = empty()
    assert not _explained(base, left)
    # what is left is explained: e.g. "workers: GPU utilisation" without a GPU here
    assert len(left) < len(boards) // 3, left


def _explained(base: str, missing: list[str]) -> list[str]:
    """The empty expressions that no unavailable source explains: every host metric in them
    needs a source, and each such source is off here (with a reason)."""
    out = []
    for m in missing:
        names = [s.group(1) for s in SELECTOR.finditer(m)]
        host = [n for n in names if n.startswith("tcplab_host_")]
        if not host or not all(_unavailable(base, n) for n in host):
            out.append(m)
    return out
