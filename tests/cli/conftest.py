"""Run the real ``tcplab`` console script as a user would."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

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
