"""The ``cuda`` backend: its kernel on numba-cuda's CUDA *simulator*, and its behaviour here.

The simulator (``NUMBA_ENABLE_CUDASIM=1``) executes the kernel's Python code thread by thread
on the CPU, with shared memory, ``syncthreads``, streams and pinned arrays emulated: a real
test of the kernel's logic and of the chunked stream pipeline, not a GPU run (no GPU here;
``make test-gpu`` runs the ``gpu``-marked tests and ``bench/gpu_check.py`` on one).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tcplab.accel import create, decide_numpy, interop_vectors, random_batch, single_bit_corruptions
from tcplab.errors import AcceleratorUnavailableError, UsageError

SIM_SCRIPT = """
import json, sys
import numpy as np
from tcplab.accel import create, decide_numpy, interop_vectors, random_batch
from tcplab.accel import single_bit_corruptions

v = interop_vectors()
rows = np.concatenate([v, single_bit_corruptions(v)[::16], random_batch(600, seed=5)])
out = {"rows": int(rows.shape[0])}
with create("cuda", threads_per_block=32, chunk_rows=1 << 20) as acc:
    out["one_chunk"] = bool(acc.decide(rows).equals(decide_numpy(rows)))
with create("cuda", threads_per_block=64, chunk_rows=700) as acc:  # 5 chunks, 2 streams
    small = acc.decide(rows[:50]).equals(decide_numpy(rows[:50]))  # buffers of 50 rows, then
    out["streamed"] = bool(small and acc.decide(rows).equals(decide_numpy(rows)))  # 700
    odd = np.zeros(rows.size + 1, np.uint8)[1:].reshape(rows.shape)
    odd[:] = rows
    out["unaligned"] = bool(acc.decide(odd).equals(decide_numpy(rows)))
print(json.dumps(out))
"""


def test_cuda_kernel_on_the_cuda_simulator_equals_oracle() -> None:
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", SIM_SCRIPT], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"rows": got["rows"], "one_chunk": True, "streamed": True, "unaligned": True}
    assert got["rows"] > 2800


def test_without_a_gpu_open_fails_with_the_reason() -> None:
    acc = create("cuda")
    ok, why = acc.available()
    if ok:  # on a GPU machine: the real thing must agree with the oracle
        rows = single_bit_corruptions(interop_vectors())
        with acc:
            assert acc.decide(rows).equals(decide_numpy(rows))
        return
    assert "CUDA" in why
    with pytest.raises(
        AcceleratorUnavailableError, match="accelerator 'cuda' unavailable: no CUDA"
    ):
        acc.decide(random_batch(10, 1))
    acc.close()  # nothing was opened; closing is harmless


def test_parameters_are_checked() -> None:
    with pytest.raises(UsageError, match="threads_per_block"):
        create("cuda", threads_per_block=48)
    with pytest.raises(UsageError, match="chunk_rows"):
        create("cuda", chunk_rows=0)
    assert create("cuda").describe()["backend"] == "cuda"


def test_kernel_compiles_to_ptx_for_the_h200_without_a_gpu() -> None:
    """numba-cuda types the kernel and NVVM compiles it for sm_90 (the simulator does not
    type-check: this does). Compiling is not running: no GPU executed the PTX."""
    from numba import cuda, types

    from tcplab.accel._cuda import _kernel

    sig = (
        types.uint32[:, ::1],
        types.int64,
        types.uint16[::1],
        types.uint32,
        types.int32[::1],
        types.int32[::1],
        types.uint8[::1],
    )
    ptx, _ = cuda.compile_ptx(_kernel().py_func, sig, cc=(9, 0))
    assert ".target sm_90" in ptx
    assert ".shared .align 2 .b8 _cudapy_smem_1[8192]" in ptx  # the CRC tables in shared memory
