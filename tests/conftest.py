"""Shared fixtures: every test gets its own TCPLAB_HOME and a clean tcplab environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Deadlines measure machine noise, not correctness (2 shared cores, JIT warm-up).
settings.register_profile("tcplab", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("tcplab")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point TCPLAB_HOME at a fresh directory and drop other TCPLAB_* variables."""
    for key in list(os.environ):
        if key.startswith("TCPLAB_"):
            monkeypatch.delenv(key)
    home = tmp_path_factory.mktemp("tcplab-home")
    monkeypatch.setenv("TCPLAB_HOME", str(home))
    yield home


def in_ci() -> bool:
    """True when running under CI, where a missing component fails instead of skipping."""
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}
