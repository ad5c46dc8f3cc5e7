"""Pool processes of the `local` executor, seen from a real `tcplab worker`: the LLM attempts
they make are on the worker's /metrics, and their log lines are in the job's logs.

The LLM arm talks to ``transformers serve`` running a tiny random model built at test time (the
fixture the LLM end-to-end tests use); a real API and worker run on a fresh PostgreSQL schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..analyzers.llm_tiny import TinyServer, missing_components, running_tiny_server
from ..conftest import in_ci
from ..service.conftest import Stack, fake_spec, free_port, pg_schema, wait_for
from .helpers import man_corpus

pytestmark = pytest.mark.slow

_missing = missing_components()
if _missing:  # pragma: no cover - environment dependent
    _why = f"the pool aggregation test needs {', '.join(_missing)} (transformers serve)"
    if in_ci():
        pytest.fail(_why, pytrace=False)
    pytest.skip(_why, allow_module_level=True)

TOOLS = ["ls", "rm", "cp", "chmod", "tar", "du"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TinyServer]:
    yield from running_tiny_server(tmp_path_factory.mktemp("tiny-llm"))


def _corpus(home: Path) -> Path:
    return man_corpus(home, TOOLS)


def _spec(tiny: TinyServer, corpus: Path) -> dict[str, Any]:
    # warmup 0: every request the arm makes is a trial's attempt (a warm-up call per pool
    # process would be counted too, and rightly, but the trials would not show it)
    spec = fake_spec(name="pool-llm", corpus=str(corpus), shard_size=1, warmup=0)
    spec["tools"] = {"kind": "list", "names": TOOLS}
    spec["executor"] = {"kind": "local", "workers": 2}
    spec["arms"] = [
        {
            "name": "llm",
            "analyzer": "llm",
            "params": {
                "base_url": tiny.base_url,
                "model": tiny.model,
                "transport": "http",
                "timeout_s": 120,
                "max_retries": 1,
                "backoff_base": 0.05,
                "cache": "off",
            },
        }
    ]
    return spec


def _scrape(port: int) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _total(samples: dict[Any, float], name: str, **labels: str) -> float:
    want = set(labels.items())
    return sum(v for (n, lab), v in samples.items() if n == name and want <= lab)


def test_pool_processes_llm_counts_and_logs_reach_the_worker(
    tiny: TinyServer, tmp_path: Path
) -> None:
    from tcplab.experiment import read_trials

    with pg_schema() as url:
        (tmp_path / "home").mkdir()
        stack = Stack(url, tmp_path / "home")
        try:
            stack.serve()
            admin = stack.token("root", "admin")
            port = free_port()
            worker = stack.worker(1, 0, "--metrics-port", str(port))
            with stack.client(admin) as http:
                spec = _spec(tiny, _corpus(stack.home))
                answer = http.post("/jobs", json={"spec": spec})
                assert answer.status_code == 201, answer.text
                job_id = answer.json()["id"]
                job = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"), 400)
                assert job.state == "succeeded", (job.reason, stack.log("worker-0.log"))
                page = http.get(f"/jobs/{job_id}/logs", params={"limit": 1000}).json()
            trials = read_trials(Path(job.run_dir)).to_pylist()
            assert len(trials) == len(TOOLS)
            pids = {t["pid"] for t in trials}
            assert worker.pid not in pids  # the requests were made in pool processes
            attempts = sum(int(t["attempts"]) for t in trials)
            ok = sum(t["status"] == "OK" for t in trials)
            assert attempts >= len(TOOLS)

            samples = wait_for(
                "the worker's /metrics to carry the pool's LLM attempts",
                lambda: (
                    (s := _scrape(port))
                    and _total(s, "tcplab_llm_requests_total", model=tiny.model) >= attempts
                    and s
                ),
                30,
            )
            model = tiny.model
            assert _total(samples, "tcplab_llm_requests_total", model=model) == attempts
            assert (
                _total(samples, "tcplab_llm_request_duration_seconds_count", model=model)
                == attempts
            )
            assert _total(samples, "tcplab_llm_request_duration_seconds_sum", model=model) > 0
            assert _total(samples, "tcplab_decision_latency_seconds_count", arm="llm") == ok

            messages = [line["message"] for line in page["lines"]]
            for pid in pids:  # every pool process that ran trials logged into the job
                assert any(f":{pid}: shard" in m for m in messages), messages
                assert any(f":{pid}: worker ready" in m for m in messages), messages
            assert any("run completed" in m for m in messages), messages
        finally:
            stack.close()
