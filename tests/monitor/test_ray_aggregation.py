"""Ray actors of the `ray` executor, seen from the driver: the LLM attempts they make are added
to the driver's totals (what a worker's /metrics exports), and their log lines are handled by
the driver's loggers.

A real local Ray (2 CPUs, started by the executor) runs the LLM arm against ``transformers
serve`` with a tiny random model built at test time (the pool aggregation test's fixture).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from ..analyzers.llm_tiny import TinyServer
from ..conftest import in_ci
from .helpers import KeepHandler, keep_records
from .test_pool_aggregation import TOOLS, _corpus, _spec, tiny

pytestmark = pytest.mark.slow
__all__ = ["tiny"]  # the module-scoped fixture, shared with the pool test

try:
    import ray  # noqa: F401
except ImportError:  # pragma: no cover - environment dependent
    if in_ci():
        pytest.fail("ray is not installed; CI needs it (pip install 'tcplab[ray]')", pytrace=False)
    pytest.skip("ray not installed", allow_module_level=True)


@pytest.fixture
def kept() -> Iterator[KeepHandler]:
    with keep_records("tcplab") as handler:
        yield handler


def _llm_totals(model: str) -> tuple[float, float]:
    """This process's exported LLM attempts of ``model``: (requests, histogram count)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from tcplab.monitor import llm_collectors

    registry = CollectorRegistry()
    for collector in llm_collectors():
        registry.register(collector)
    text = generate_latest(registry).decode()
    out = {"tcplab_llm_requests_total": 0.0, "tcplab_llm_request_duration_seconds_count": 0.0}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name in out and s.labels.get("model") == model:
                out[s.name] += s.value
    return out["tcplab_llm_requests_total"], out["tcplab_llm_request_duration_seconds_count"]


def test_ray_actors_llm_counts_and_logs_reach_the_driver(
    tiny: TinyServer, tmp_path: Path, kept: KeepHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tcplab.analyzers import default_registry
    from tcplab.experiment import (
        load_spec,
        make_executor,
        prepare_run,
        read_trials,
        run_experiment,
    )

    # a cluster address in the environment is not the executor's own local Ray (Ray would
    # refuse num_cpus when connecting to it; nothing listens on port 9)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:9")
    path = tmp_path / "spec.yaml"
    spec = _spec(tiny, _corpus(tmp_path))
    spec["executor"] = {"kind": "ray", "workers": 2}
    path.write_text(yaml.safe_dump(spec))
    run_dir, _meta, _plan = prepare_run(
        load_spec(path, default_registry().names()), tmp_path, tmp_path / "runs"
    )
    before = _llm_totals(tiny.model)
    outcome = run_experiment(run_dir, executor=make_executor("ray", 2), use_store=False)
    assert outcome.status == "completed"

    trials = read_trials(run_dir).to_pylist()
    assert len(trials) == len(TOOLS)
    pids = {t["pid"] for t in trials}
    assert os.getpid() not in pids  # the requests were made in actors
    attempts = sum(int(t["attempts"]) for t in trials)
    assert attempts >= len(TOOLS)
    after = _llm_totals(tiny.model)
    assert (after[0] - before[0], after[1] - before[1]) == (attempts, attempts)

    messages = [m for m, _ in kept.seen]
    for pid in pids:  # every actor that ran trials logged through the driver
        assert any(f":{pid}: worker ready" in m for m in messages), messages
        assert any(f":{pid}: shard" in m and m.endswith(" done") for m in messages), messages
    actor_lines = [t for m, t in kept.seen if m.startswith("ray actor ")]
    assert len(actor_lines) >= len(TOOLS) + 2  # a shard each (shard_size 1), 2 readies
    assert set(actor_lines) == {threading.get_ident()}  # handled on the waiting thread


def test_ray_executor_starts_no_more_actors_than_the_cluster_has_cpus(
    tmp_path: Path, kept: KeepHandler
) -> None:
    import ray

    from tcplab.analyzers import default_registry
    from tcplab.experiment import (
        load_spec,
        make_executor,
        prepare_run,
        read_trials,
        run_experiment,
    )

    from ..service.conftest import fake_spec

    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(fake_spec(name="ray-cap", n_tools=4, shard_size=1)))
    run_dir, _meta, _plan = prepare_run(
        load_spec(path, default_registry().names()), tmp_path, tmp_path / "runs"
    )
    ray.init(address="local", num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:  # 3 actors of 1 CPU each on 1 CPU: without the cap the run would wait forever
        executor = make_executor("ray", 3)
        outcome = run_experiment(run_dir, executor=executor, use_store=False)
        assert outcome.status == "completed"
    finally:
        ray.shutdown()
    assert len({t["pid"] for t in read_trials(run_dir).to_pylist()}) == 1
    messages = [m for m, _ in kept.seen]
    assert any("3 Ray workers asked; the cluster has 1 CPUs: using 1" in m for m in messages)
    assert sum(m.endswith(": worker ready") for m in messages) == 1
