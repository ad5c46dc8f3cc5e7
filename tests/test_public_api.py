"""The curated public API: sorted ``__all__`` everywhere, every name importable, no SDK loaded."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PACKAGES = [
    "tcplab",
    "tcplab.descriptor",
    "tcplab.registry",
    "tcplab.corpus",
    "tcplab.labels",
    "tcplab.rules",
    "tcplab.generator",
    "tcplab.analyzers",
    "tcplab.accel",
    "tcplab.experiment",
    "tcplab.stats",
    "tcplab.report",
    "tcplab.store",
    "tcplab.kube",
    "tcplab.errors",
    "tcplab.infra",
    "tcplab.plugins",
]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions (dunders count as lower)."""
    bare = name.strip("_")
    if bare.isupper() or (bare.replace("_", "").isupper() and "_" in bare):
        return (0, name)
    return (1, name) if bare[:1].isupper() else (2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_key), f"{name}.__all__ is not sorted"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.{attr} is exported but missing"


def test_importing_tcplab_loads_no_optional_sdk() -> None:
    code = (
        "import sys, tcplab, tcplab.analyzers, tcplab.store, tcplab.experiment\n"
        "heavy = {'torch', 'openai', 'ray', 'sqlalchemy', 'boto3', 'duckdb',"
        " 'sentence_transformers', 'matplotlib'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[]"
