"""Golden files: the three-region, three-provider example renders byte for byte as committed.

Regenerate after an intended change with ``UPDATE_GOLDEN=1 pytest tests/infra/test_golden.py``
and review the diff."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tcplab.infra import Rendered

from .conftest import THREE

GOLDEN = THREE.parent / "golden"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text("utf-8") for p in sorted(root.rglob("*.json"))}


def test_three_clouds_matches_the_golden_files(rendered_three: tuple[Rendered, Path]) -> None:
    out = rendered_three[1]
    if os.environ.get("UPDATE_GOLDEN") == "1":
        shutil.rmtree(GOLDEN, ignore_errors=True)
        shutil.copytree(out, GOLDEN)
    expected, actual = _files(GOLDEN), _files(out)
    assert sorted(actual) == sorted(expected)
    for name, text in expected.items():
        assert actual[name] == text, f"{name} differs from the golden file (UPDATE_GOLDEN=1)"
    assert len(expected) == 17  # 4 modules x 4 files + the manifest
