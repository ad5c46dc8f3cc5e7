"""The Analyzer interface, registry and the tcp / rules / fake arms."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tcplab.analyzers import (
    Analyzer,
    AnalyzerRegistry,
    Assessment,
    Status,
    ToolInput,
    default_registry,
    load_inputs,
)
from tcplab.corpus import scan_tools, write_corpus
from tcplab.descriptor import Decision, RiskLevel, encode
from tcplab.errors import RegistryError, UsageError
from tcplab.registry import write_registry

from ..conftest import Runner


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("bin")
    for t in ("ls", "rm", "chmod", "cp"):
        found = shutil.which(t, path="/usr/bin:/bin")
        assert found
        (d / t).symlink_to(found)
    out = d.parent / "corpus.parquet"
    write_corpus(scan_tools([d]).rows, out)
    return out


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "r.tcpdb"
    write_registry(
        path, [("rm", encode("rm", "CRITICAL", ["DESTRUCTIVE"])), ("ls", encode("ls", "SAFE"))]
    )
    return path


def test_registry_lists_arms_and_refuses_unknown_names() -> None:
    reg = default_registry()
    assert reg.names() == ["embedding", "invocation", "llm", "rules", "tcp", "tcp-batch"]
    known = "known: embedding, invocation, llm"
    with pytest.raises(UsageError, match=f"unknown analyzer 'gtp4'; {known}"):
        reg.get("gtp4")


def test_registry_accepts_registered_classes() -> None:
    reg = AnalyzerRegistry()

    @reg.register("const")
    class Const(Analyzer):
        name = "const"

        def describe(self) -> dict[str, Any]:
            return {"name": self.name}

        def _analyze(self, tool: ToolInput) -> Assessment:
            return Assessment(tool.name, self.name, Status.OK, RiskLevel.SAFE)

    res = reg.create("const").analyze(ToolInput.bare("x"))
    assert res.status is Status.OK and res.timing.total_ns > 0


def test_analyzer_without_implementation_is_refused() -> None:
    class Empty(Analyzer):
        def describe(self) -> dict[str, Any]:
            return {}

    with pytest.raises(TypeError, match="must override"):
        Empty()


def test_unknown_parameters_are_refused() -> None:
    with pytest.raises(UsageError, match="unknown parameters: colour"):
        default_registry().create("rules", colour="red")


def test_exceptions_become_error_assessments_never_lost() -> None:
    arm = default_registry().create("fake", raise_on=["boom"], fail=["bad"])
    out = arm.analyze_batch([ToolInput.bare(n) for n in ("ok", "boom", "bad")])
    assert [a.status for a in out] == [Status.OK, Status.ERROR, Status.ERROR]
    assert "RuntimeError" in (out[1].error or "")
    assert out[1].risk_level is RiskLevel.UNKNOWN
    assert out[1].decision is Decision.REQUIRE_APPROVAL
    again = asyncio.run(arm.analyze_batch_async([ToolInput.bare("boom")] * 3, concurrency=2))
    assert all(a.status is Status.ERROR for a in again)


def test_tcp_arm_cold_and_cached_agree_and_unknown_fails_closed(registry: Path) -> None:
    for mode in ("cold", "cached"):
        with default_registry().create("tcp", registry=str(registry), mode=mode) as arm:
            rm, nope = arm.analyze(ToolInput.bare("rm")), arm.analyze(ToolInput.bare("nope"))
            assert rm.risk_level is RiskLevel.CRITICAL and rm.decision is Decision.REJECT
            assert rm.capabilities == ("DESTRUCTIVE",)
            assert nope.risk_level is RiskLevel.UNKNOWN
            assert nope.decision is Decision.REQUIRE_APPROVAL
            hot = arm.hot_path()
            assert (hot is not None and hot("rm") == Decision.REJECT) or hot("rm")[1]


def test_tcp_arm_missing_registry_says_what_to_run(tmp_path: Path) -> None:
    arm = default_registry().create("tcp", registry=str(tmp_path / "none.tcpdb"))
    with pytest.raises(RegistryError, match="tcplab descriptors generate"):
        arm.open()
    with pytest.raises(UsageError, match="mode must be"):
        default_registry().create("tcp", mode="warm")


def test_rules_arm_reads_the_same_documentation(corpus: Path) -> None:
    inputs = load_inputs(["rm", "ls", "ghost"], corpus)
    with default_registry().create("rules") as arm:
        out = {a.tool: a for a in arm.analyze_batch(inputs)}
    assert out["rm"].risk_level is RiskLevel.CRITICAL
    assert "critical-remove-data" in out["rm"].explanation
    assert out["ls"].risk_level is RiskLevel.SAFE
    assert out["ghost"].risk_level is RiskLevel.UNKNOWN  # not in corpus: no documentation
    assert out["rm"].model.version == "3.0"


def test_analyze_cli_prints_one_json_object_per_tool(
    tcplab: Runner, corpus: Path, registry: Path
) -> None:
    res = tcplab("analyze", "-a", "tcp", "--registry", str(registry), "rm", "ls", "zz", "--json")
    assert res.returncode == 0, res.stderr
    objs = [json.loads(line) for line in res.stdout.splitlines()]
    assert [o["tool"] for o in objs] == ["rm", "ls", "zz"]
    for o in objs:
        assert {
            "tool",
            "analyzer",
            "status",
            "risk_level",
            "capabilities",
            "decision",
            "latency_ns",
        } <= set(o)
    assert objs[0]["decision"] == "REJECT" and objs[2]["risk_level"] == "UNKNOWN"
    res = tcplab("analyze", "-a", "rules", "--corpus", str(corpus), "cp", "--json")
    assert json.loads(res.stdout)["risk_level"] == "MEDIUM_RISK"
    res = tcplab("analyze", "-a", "rules", "--corpus", str(corpus), "-p", "bogus", "ls")
    assert res.returncode == 2 and "KEY=VALUE" in res.stderr
