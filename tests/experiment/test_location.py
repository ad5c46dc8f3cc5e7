"""Region, provider and the RTT probe recorded in run.json (before timing starts)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.experiment import RunRecord, collect_location, probe_endpoint
from tcplab.experiment._record import upgrade_document


@pytest.fixture
def tcp_server() -> Iterator[int]:
    """A real TCP server on 127.0.0.1 that accepts and closes connections (no TLS)."""
    srv = socket.create_server(("127.0.0.1", 0))
    srv.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1]
    stop.set()
    thread.join()
    srv.close()


def test_probe_measures_tcp_connects_to_a_real_server(tcp_server: int) -> None:
    out = probe_endpoint(f"http://user:secret@127.0.0.1:{tcp_server}/v1?x=1", samples=5)
    assert out["endpoint"] == f"http://127.0.0.1:{tcp_server}"  # no credentials, no path
    assert "error" not in out
    connect = out["tcp_connect"]
    assert len(connect["samples_ms"]) == 5
    assert 0 < connect["min_ms"] <= connect["median_ms"] <= connect["max_ms"]


def test_a_failed_tls_handshake_or_connect_is_recorded_not_raised(tcp_server: int) -> None:
    tls = probe_endpoint(f"https://127.0.0.1:{tcp_server}/v1", samples=3)
    assert len(tls["tcp_connect"]["samples_ms"]) == 1 and "tls_handshake" not in tls
    assert tls["error"]  # the server speaks no TLS
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    refused = probe_endpoint(f"http://127.0.0.1:{port}", samples=3)
    assert "tcp_connect" not in refused and "ConnectionRefusedError" in refused["error"]
    assert probe_endpoint("ftp://x")["error"].startswith("not an http(s) URL")


def test_region_and_provider_are_recorded_as_given_never_guessed(
    tcp_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    arms = [
        {"name": "tcp", "describe": {}},
        {"name": "llm", "describe": {"base_url": f"http://127.0.0.1:{tcp_server}/v1"}},
        {"name": "llm2", "describe": {"base_url": f"http://127.0.0.1:{tcp_server}/v1"}},
    ]
    none = collect_location(arms, probe=False)
    assert none == {"region": None, "provider": None, "network_rtt": []}
    monkeypatch.setenv("TCPLAB_REGION", "eu-west-1")
    monkeypatch.setenv("TCPLAB_PROVIDER", "aws")
    loc = collect_location(arms)
    assert (loc["region"], loc["provider"]) == ("eu-west-1", "aws")
    assert len(loc["network_rtt"]) == 1  # one probe per distinct endpoint
    monkeypatch.setenv("TCPLAB_RTT_PROBE", "0")
    assert collect_location(arms)["network_rtt"] == []


def test_older_documents_still_load_without_the_new_fields() -> None:
    v1 = {
        "schema_version": 1,
        "run_id": "r",
        "name": "n",
        "spec": {},
        "spec_hash": "h",
        "plan_hash": "p",
        "seed": 1,
        "n_trials": 0,
        "n_shards": 0,
        "n_tools": 0,
        "trials_by_arm": {},
    }
    record = RunRecord.model_validate(upgrade_document(v1))
    assert record.schema_version == 2
    assert (record.region, record.provider, record.network_rtt) == (None, None, [])


def test_prepare_run_records_the_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    from tcplab.analyzers import default_registry
    from tcplab.experiment import RunDir, load_spec, prepare_run

    monkeypatch.setenv("TCPLAB_REGION", "europe-west1")
    monkeypatch.setenv("TCPLAB_PROVIDER", "gcp")
    spec = {
        "spec_version": 1,
        "name": "where",
        "tools": {"kind": "list", "names": ["ls"]},
        "arms": [{"name": "fake", "analyzer": "fake", "params": {"level": "SAFE"}}],
        "iterations": 1,
        "executor": {"kind": "inline", "workers": 1},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    run_dir, _, _ = prepare_run(load_spec(path, default_registry().names()), tmp_path, tmp_path)
    record = RunDir(run_dir).read_record()
    assert (record.region, record.provider, record.network_rtt) == ("europe-west1", "gcp", [])
