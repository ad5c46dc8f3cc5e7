"""``tcplab compare`` across runs measured from different regions: the latency ratio with its
CI, and each run's region, provider and RTT to the LLM endpoint beside it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from tcplab.cli.report import register
from tcplab.experiment import RunDir
from tcplab.report import ReportSettings, build_report, compare_runs

from .conftest import make_synthetic_run


def _located(path: Path, region: str | None, provider: str | None, rtt: float | None) -> Path:
    rd = RunDir(path)
    record = rd.read_record()
    record.region, record.provider = region, provider
    if rtt is not None:
        record.network_rtt = [
            {
                "endpoint": "https://llm.example:443",
                "samples": 1,
                "tcp_connect": {
                    "median_ms": rtt,
                    "min_ms": rtt,
                    "max_ms": rtt,
                    "samples_ms": [rtt],
                },
            }
        ]
    rd.write_record(record)
    return path


def test_compare_shows_region_provider_and_rtt(tmp_path: Path) -> None:
    near = _located(
        make_synthetic_run(tmp_path, n_tools=60, arms=("tcp", "llm"), run_id="near"),
        "us-east-1",
        "aws",
        2.5,
    )
    far = _located(
        make_synthetic_run(
            tmp_path, n_tools=60, arms=("tcp", "llm"), run_id="far", seed=2, slow={"llm": 1.6}
        ),
        "japaneast",
        "azure",
        148.0,
    )
    res = compare_runs(near, far, arm="llm", settings=ReportSettings(n_resamples=500))
    assert res["regions_differ"] is True
    assert res["run_a"] | {"path": None} == {
        "run_id": "near",
        "path": None,
        "region": "us-east-1",
        "provider": "aws",
        "network_rtt_ms": 2.5,
    }
    assert res["run_b"]["region"] == "japaneast" and res["run_b"]["network_rtt_ms"] == 148.0
    lat = res["arms"]["llm"]["latency"]["ratio_b_over_a"]
    assert lat["verdict"] == "slower" and lat["ci"][0] > 1.0

    app = typer.Typer()
    register(app)
    out = CliRunner().invoke(
        app, ["compare", str(near), str(far), "--arm", "llm", "--resamples", "500"]
    )
    assert out.exit_code == 0, out.output
    assert "A: region us-east-1 (aws), RTT 2.5 ms" in out.output
    assert "B: region japaneast (azure), RTT 148.0 ms" in out.output
    assert "latency B/A" in out.output and "ms per tool" in out.output
    diff = res["arms"]["llm"]["latency"]["difference_ms_b_minus_a"]
    assert diff["estimate"] > 0 and diff["ci"][0] > 0


def test_runs_without_a_location_say_so(tmp_path: Path) -> None:
    run = make_synthetic_run(tmp_path, n_tools=30, arms=("tcp",), run_id="plain")
    res = compare_runs(run, run, settings=ReportSettings(n_resamples=200))
    assert res["regions_differ"] is False
    assert res["run_a"]["region"] is None and res["run_a"]["network_rtt_ms"] is None
    files = build_report(_located(run, "eu-west-1", "aws", 11.0), ReportSettings(n_resamples=200))
    summary = json.loads(files.summary.read_text("utf-8"))
    assert summary["run"]["region"] == "eu-west-1" and summary["run"]["network_rtt_ms"] == 11.0
    assert "eu-west-1 / aws" in files.markdown.read_text("utf-8")
