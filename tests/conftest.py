"""Shared fixtures: every test gets its own TCPLAB_HOME and a clean tcplab environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
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


TCPLAB = Path(sys.executable).with_name("tcplab")

Runner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tcplab() -> Runner:
    """``tcplab(*args, input=None)`` → CompletedProcess with text stdout/stderr."""

    def run(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(TCPLAB), *args], input=input, capture_output=True, text=True, timeout=300
        )

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """Under CI=true nothing is skipped silently: any skip (missing groff, dpkg, sandbox, SDK,
    server...) is turned into a failure naming the reason, so a missing install step shows."""
    outcome = yield
    report = outcome.get_result()
    # the one allowed skip: the optional terraform/tofu check when no binary is installed
    allowed = item.get_closest_marker("optional_terraform_binary") is not None
    if in_ci() and report.skipped and not hasattr(report, "wasxfail") and not allowed:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true (a needed component is missing): {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):  # type: ignore[no-untyped-def]
    """The same for a whole module skipped at import (``allow_module_level=True``, e.g. a
    missing model or server): under CI=true it is a collection error, not a silent skip."""
    outcome = yield
    report = outcome.get_result()
    if in_ci() and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"module skipped under CI=true (a needed component is missing): {reason}"
