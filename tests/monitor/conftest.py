"""Fixtures: the engine tests' small real registry, labels and spec writer (one definition,
in tests/experiment/conftest.py)."""

from __future__ import annotations

from ..experiment.conftest import LEVELS, TOOLS, lab, write_spec

__all__ = ["LEVELS", "TOOLS", "lab", "write_spec"]
