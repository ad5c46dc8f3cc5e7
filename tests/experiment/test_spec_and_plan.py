"""Specs are refused with every problem at once; plans are deterministic."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tcplab.analyzers import default_registry
from tcplab.experiment import SpecError, build_plan, load_spec, read_plan

from ..conftest import Runner

KNOWN = default_registry().names()


def test_bad_spec_lists_every_problem_with_its_yaml_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "spec_version: 1\nname: x\niterations: 0\ncolour: red\n"
        "arms:\n  - {name: a, analyzer: tcp}\n  - {name: b, analyzer: rules}\n"
        "  - {name: c, analyzer: gtp4}\n  - {name: a, analyzer: rules, timing: fast}\n"
    )
    with pytest.raises(SpecError) as info:
        load_spec(path, KNOWN)
    problems = "\n".join(info.value.problems)
    known = "known: embedding, invocation, llm, rules, tcp, tcp-batch"
    assert f"arms[2].analyzer: unknown 'gtp4'; {known}" in problems
    assert "iterations: Input should be greater than or equal to 1" in problems
    assert "colour: Extra inputs are not permitted" in problems
    assert "arms[3].timing" in problems
    assert "arms[3].name: duplicate arm name 'a'" in problems


def test_absurd_plans_are_refused_with_the_numbers(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(write_spec(iterations=10**12 // 60), KNOWN)
    with pytest.raises(SpecError) as info:
        build_plan(spec, [f"t{i}" for i in range(30)])
    assert "30 tools × 2 arms × 16,666,666,666 iterations" in info.value.problems[0]
    spec = load_spec(write_spec(iterations=100, limits={"max_trials": 1000}), KNOWN)
    with pytest.raises(SpecError, match="exceeds its limits"):
        build_plan(spec, [f"t{i}" for i in range(30)])


def test_same_spec_and_seed_give_a_byte_identical_plan(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    spec = load_spec(write_spec(iterations=5), KNOWN)
    tools = [f"t{i}" for i in range(40)]
    a, b = build_plan(spec, tools), build_plan(spec, list(reversed(tools)))
    assert a.plan_hash() == b.plan_hash()
    a.write(tmp_path / "a.parquet")
    b.write(tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    again, stored = read_plan(tmp_path / "a.parquet")
    assert stored == a.plan_hash() == again.plan_hash()
    other = build_plan(load_spec(write_spec("o.yaml", iterations=5, seed=8), KNOWN), tools)
    assert other.plan_hash() != a.plan_hash()


def test_interleaved_order_visits_every_arm_once_per_tool_and_iteration(
    write_spec: Callable[..., Path],
) -> None:
    spec = load_spec(write_spec(iterations=3), KNOWN)
    plan = build_plan(spec, [f"t{i}" for i in range(10)])
    blocks = plan.arm_idx.reshape(-1, 2)
    assert all(sorted(b.tolist()) == [0, 1] for b in blocks)
    assert len({tuple(b) for b in blocks.tolist()}) == 2  # both arm orders occur
    assert np.all(plan.tool_idx.reshape(-1, 2)[:, 0] == plan.tool_idx.reshape(-1, 2)[:, 1])


def test_sequential_order_runs_arm_after_arm(write_spec: Callable[..., Path]) -> None:
    spec = load_spec(write_spec(order="sequential"), KNOWN)
    plan = build_plan(spec, [f"t{i}" for i in range(10)])
    assert plan.arm_idx.tolist() == [0] * 20 + [1] * 20


def test_cli_refuses_a_bad_spec_before_any_work(tcplab: Runner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("spec_version: 1\nname: x\narms:\n  - {name: a, analyzer: gtp4}\n")
    res = tcplab("run", str(path))
    assert res.returncode == 2
    assert "arms[0].analyzer: unknown 'gtp4'" in res.stderr and "Traceback" not in res.stderr
