"""Fixtures: a small real registry, labels and spec files (as in tests/experiment)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tcplab.descriptor import encode
from tcplab.registry import write_registry

LEVELS = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
TOOLS = [f"tool{i:02d}" for i in range(30)]


@pytest.fixture
def lab(tmp_path: Path) -> dict[str, Path]:
    """A registry of 30 tools and labels that agree with it except for tool00."""
    reg = tmp_path / "tools.tcpdb"
    write_registry(reg, [(t, encode(t, LEVELS[i % 5])) for i, t in enumerate(TOOLS)])
    labels = tmp_path / "labels.csv"
    rows = ["command,risk_level,capabilities,rationale,labeler"]
    for i, t in enumerate(TOOLS):
        level = "CRITICAL" if t == "tool00" else LEVELS[i % 5]
        rows.append(f"{t},{level},,synthetic label for engine tests,test")
    labels.write_text("\n".join(rows) + "\n")
    return {"registry": reg, "labels": labels, "dir": tmp_path}


@pytest.fixture
def write_spec(lab: dict[str, Path]) -> Callable[..., Path]:
    """Write a spec YAML with sensible defaults; keyword arguments override top-level keys."""

    def write(name: str = "spec.yaml", **overrides: Any) -> Path:
        spec: dict[str, Any] = {
            "spec_version": 1,
            "name": "engine test",
            "labels": str(lab["labels"]),
            "tools": {"kind": "labeled"},
            "arms": [
                {"name": "tcp", "analyzer": "tcp", "params": {"registry": str(lab["registry"])}},
                {"name": "fake", "analyzer": "fake", "params": {"level": "SAFE"}},
            ],
            "iterations": 2,
            "warmup": 1,
            "seed": 7,
            "shard_size": 16,
            "executor": {"kind": "inline", "workers": 1},
            "micro_min_batch_ns": 200_000,
        }
        spec.update(overrides)
        path = lab["dir"] / name
        path.write_text(yaml.safe_dump(spec))
        return path

    return write
