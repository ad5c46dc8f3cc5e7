"""The CI slice of the fuzzer: 10^5 seeded inputs, 0 crashes, only typed errors.

`make fuzz` runs the same engine on 10^6 inputs. The slice runs in a child process, so that a
crash of the interpreter itself (a segfault in compiled code) fails this test instead of the
whole run, and a hang fails at the time limit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLICE = 100_000
HANG_LIMIT_S = 600


def test_fuzz_slice_has_no_crashes() -> None:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "tests.fuzz.engine", "--n", str(SLICE), "--seed", "1", "--json"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=HANG_LIMIT_S,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the fuzz slice did not finish within {HANG_LIMIT_S} s (a hang?)")
    assert proc.returncode in (0, 1), f"the fuzzer itself died: {proc.returncode}\n{proc.stderr}"
    report = json.loads(proc.stdout)
    targets = report["targets"]
    examples = [e for t in targets.values() for e in t["examples"]]
    assert sum(t["crashes"] for t in targets.values()) == 0, "\n\n".join(examples)
    assert proc.returncode == 0
    assert sum(t["inputs"] for t in targets.values()) >= SLICE
    assert set(targets) == {"decoder", "batch", "lines", "registry"}
    registry = targets["registry"]["outcomes"]
    assert any(k.startswith("opened:") for k in registry), registry  # mutants got past the checks
    assert any(k.startswith("refused:") for k in registry), registry
    decoder = targets["decoder"]["outcomes"]
    assert any(k.startswith("valid:") for k in decoder) and "invalid:CHECKSUM" in decoder
