"""The ``tcp-batch`` arm: registry decisions through an accelerator backend, in the engine."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.compute as pc
import pytest

from tcplab.analyzers import ToolInput, default_registry
from tcplab.descriptor import Decision, RiskLevel, encode
from tcplab.errors import AcceleratorUnavailableError, UsageError
from tcplab.experiment import InlineExecutor, load_spec, prepare_run, read_trials, run_experiment
from tcplab.registry import write_registry


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "r.tcpdb"
    bad = bytearray(encode("broken", "SAFE"))
    bad[23] ^= 1  # stored checksum off by one bit: invalid, must not approve
    write_registry(
        path,
        [
            ("rm", encode("rm", "CRITICAL", ["DESTRUCTIVE"])),
            ("ls", encode("ls", "SAFE")),
            ("git", encode("git", "MEDIUM_RISK", ["NETWORK_ACCESS"])),
            ("broken", bytes(bad)),
        ],
    )
    return path


@pytest.mark.parametrize("backend", ["numpy", "cpu"])
def test_decisions_per_tool_and_in_one_batch(registry: Path, backend: str) -> None:
    names = ["rm", "ls", "git", "broken", "absent"]
    with default_registry().create("tcp-batch", registry=registry, backend=backend) as arm:
        one = [arm.analyze(ToolInput.bare(n)) for n in names]
        many = arm.analyze_batch([ToolInput.bare(n) for n in names])
        hot = arm.hot_path()
        assert hot("rm") is not None
        info = arm.describe()
    for got in (one, many):
        assert [a.risk_level for a in got] == [
            RiskLevel.CRITICAL,
            RiskLevel.SAFE,
            RiskLevel.MEDIUM_RISK,
            RiskLevel.UNKNOWN,
            RiskLevel.UNKNOWN,
        ]
        assert [a.decision for a in got] == [
            Decision.REJECT,
            Decision.APPROVE,
            Decision.CAUTION,
            Decision.REQUIRE_APPROVAL,
            Decision.REQUIRE_APPROVAL,
        ]
        assert got[0].capabilities == ("DESTRUCTIVE",)
        assert "invalid descriptor (reason code 4)" in got[3].explanation
        assert got[4].explanation.startswith("not in registry")
    assert info["backend"] == backend and info["accelerator"]["backend"] == backend


def test_unavailable_backend_refuses_before_any_trial(registry: Path) -> None:
    arm = default_registry().create("tcp-batch", registry=registry, backend="fpga")
    with pytest.raises(AcceleratorUnavailableError, match="accelerator 'fpga' unavailable"):
        arm.open()
    with pytest.raises(UsageError, match="unknown accelerator 'tpu'"):
        default_registry().create("tcp-batch", registry=registry, backend="tpu")
    with pytest.raises(UsageError, match="unknown parameters: colour"):
        default_registry().create(
            "tcp-batch", registry=registry, backend="cpu", backend_params={"colour": 1}
        )


def test_engine_compares_backends_with_the_same_statistics(
    lab: dict[str, Path], write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    arms = [
        {
            "name": f"batch-{b}",
            "analyzer": "tcp-batch",
            "params": {"registry": str(lab["registry"]), "backend": b},
        }
        for b in ("numpy", "cpu")
    ]
    spec_path = write_spec(arms=arms, iterations=1)
    spec = load_spec(spec_path, default_registry().names())
    run_dir, _meta, _plan = prepare_run(spec, spec_path.parent, tmp_path / "runs")
    assert run_experiment(run_dir, executor=InlineExecutor()).status == "completed"
    t = read_trials(run_dir)
    for arm in ("batch-numpy", "batch-cpu"):
        rows = t.filter(pc.equal(t["arm"], arm)).to_pylist()
        assert len(rows) == 30 and {r["timing_mode"] for r in rows} == {"micro"}
        assert sum(r["correct"] for r in rows) == 29  # tool00's label disagrees on purpose
    meta = json.loads((run_dir / "run.json").read_text())
    assert [a["describe"]["backend"] for a in meta["arms"]] == ["numpy", "cpu"]
