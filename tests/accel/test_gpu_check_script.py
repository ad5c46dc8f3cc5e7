"""bench/gpu_check.py imports and, without a GPU, stops with the reason (no figure invented)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tcplab.accel import create

ROOT = Path(__file__).resolve().parents[2]


def test_preflight_says_why_not_without_a_gpu() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--preflight"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    ok, _why = create("cuda").available()
    if ok:  # a GPU machine: the preflight passes
        assert proc.returncode == 0, proc.stderr
        return
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("no GPU figures: accelerator 'cuda' unavailable: no CUDA")
    assert "Traceback" not in proc.stderr
