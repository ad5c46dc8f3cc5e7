"""Shared fixtures of the infra tests: the shipped configurations and their renderings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tcplab.infra import Rendered, load_config, render, write_rendered

ROOT = Path(__file__).resolve().parents[2]
FULL = ROOT / "deploy" / "regions.yaml"
THREE = ROOT / "deploy" / "examples" / "three-clouds" / "regions.yaml"
BASELINE = ROOT / "deploy" / "terraform" / "checkov-baseline.yaml"


def raw(path: Path = FULL) -> dict[str, Any]:
    """A fresh, mutable copy of a configuration document."""
    return copy.deepcopy(yaml.safe_load(path.read_text("utf-8")))


@pytest.fixture(scope="session")
def rendered_full(tmp_path_factory: pytest.TempPathFactory) -> tuple[Rendered, Path]:
    out = tmp_path_factory.mktemp("tf-full")
    rendered = render(load_config(FULL))
    write_rendered(rendered, out, force=True)
    return rendered, out


@pytest.fixture(scope="session")
def rendered_three(tmp_path_factory: pytest.TempPathFactory) -> tuple[Rendered, Path]:
    out = tmp_path_factory.mktemp("tf-three")
    rendered = render(load_config(THREE))
    write_rendered(rendered, out, force=True)
    return rendered, out
