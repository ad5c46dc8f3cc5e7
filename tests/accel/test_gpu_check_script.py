"""bench/gpu_check.py imports and, without a GPU, stops with the reason (no figure invented)."""

from __future__ import annotations

import json
import os
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


SIM_SNIPPET = """
import json
import gpu_check
gpu_check.single_bit_corruptions = lambda v: v[:64]  # the simulator is slow: a slice
gpu_check.REPEAT = 2
acc = gpu_check.create("cuda", threads_per_block=64, chunk_rows=700)
acc.open()
out = {"correctness": gpu_check.correctness(acc), "throughput": gpu_check.throughput(acc)}
print(json.dumps(out))
"""


def test_the_script_runs_on_the_cuda_simulator() -> None:
    """The script's CUDA calls (events, device-to-device copy, pinned arrays, the pipeline)
    on numba-cuda's simulator with tiny sizes: it catches API mistakes before a GPU session.
    The simulator's timings are meaningless (its events report -1 ms) and are not checked."""
    env = {
        **os.environ,
        "NUMBA_ENABLE_CUDASIM": "1",
        "GPU_CHECK_ROWS": "1000",
        "GPU_CHECK_PERF_ROWS": "400",
    }
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SNIPPET],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT / "bench",
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["correctness"]["rows_checked"] == 1000 and out["correctness"]["bit_exact"]
    assert out["throughput"]["rows"] == 400
