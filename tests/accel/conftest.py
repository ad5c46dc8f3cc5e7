"""Fixtures for the accelerator tests (the engine's ``lab`` and ``write_spec``, one definition
in tests/experiment/conftest.py), and a note when the ``gpu`` tests were deselected."""

from __future__ import annotations

import pytest

from ..experiment.conftest import LEVELS, TOOLS, lab, write_spec

__all__ = ["LEVELS", "TOOLS", "lab", "write_spec"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say that ``gpu`` tests did not run here and where they run."""
    markexpr = terminalreporter.config.option.markexpr or ""
    if "not gpu" in markexpr:
        terminalreporter.write_line(
            "gpu tests deselected (-m 'not gpu', pyproject addopts): they need an NVIDIA GPU; "
            "run `make test-gpu` on a machine with one"
        )
