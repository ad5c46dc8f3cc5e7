"""GPU-only checks (marker ``gpu``): deselected from ``make test``; ``make test-gpu`` runs them
on a machine with an NVIDIA GPU, where a missing GPU or driver is a failure with the reason."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tcplab.accel import (
    Accelerator,
    create,
    decide_numpy,
    interop_vectors,
    random_chunks,
    single_bit_corruptions,
)

pytestmark = pytest.mark.gpu
ROOT = Path(__file__).resolve().parents[2]


def _cuda() -> Accelerator:
    acc = create("cuda", chunk_rows=250_000)  # several chunks: the stream pipeline runs
    ok, why = acc.available()
    if not ok:
        pytest.fail(f"gpu test without a usable GPU: {why}")
    return acc


def test_cuda_equals_oracle_on_vectors_bit_flips_and_a_million_rows() -> None:
    acc = _cuda()
    v = interop_vectors()
    with acc:
        for rows in (v, single_bit_corruptions(v), *random_chunks(1_000_000, 1_000_000, 18)):
            assert acc.decide(rows).equals(decide_numpy(rows))
        odd = np.zeros(v.size + 1, np.uint8)[1:].reshape(v.shape)
        odd[:] = v
        assert acc.decide(odd).equals(decide_numpy(v))


def test_gpu_check_preflight_passes() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--preflight"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
