"""The numba ``cpu`` backend equals the numpy oracle bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from tcplab.accel import (
    create,
    decide_numpy,
    interop_vectors,
    random_chunks,
    single_bit_corruptions,
)
from tcplab.errors import UsageError

FUZZ_ROWS = 10_000_000  # issue 18: 10^7 random and mutated descriptors (about 5-10 s here)


@pytest.mark.parametrize("threads", [1, 2, None])
def test_cpu_equals_oracle_on_interop_vectors_and_every_bit_flip(threads: int | None) -> None:
    rows = interop_vectors()
    flips = single_bit_corruptions(rows)
    with create("cpu", threads=threads) as acc:
        assert acc.decide(rows).equals(decide_numpy(rows))
        assert acc.decide(flips).equals(decide_numpy(flips))


def test_cpu_equals_oracle_on_ten_million_random_and_mutated_rows() -> None:
    parallel, serial = create("cpu"), create("cpu", threads=1)
    checked = 0
    with parallel, serial:
        for i, rows in enumerate(random_chunks(FUZZ_ROWS, 500_000, seed=18)):
            ref = decide_numpy(rows)
            assert parallel.decide(rows).equals(ref), f"chunk {i}"
            if i % 10 == 0:  # the serial kernel on every tenth chunk (10^6 rows)
                assert serial.decide(rows).equals(ref), f"serial, chunk {i}"
            checked += rows.shape[0]
    assert checked == FUZZ_ROWS


def test_unaligned_and_strided_input() -> None:
    rows = single_bit_corruptions(interop_vectors())[:5000]
    buf = np.zeros(rows.size + 3, dtype=np.uint8)
    odd = buf[3:].reshape(rows.shape)
    odd[:] = rows
    strided = np.repeat(rows, 2, axis=0)[::2]
    with create("cpu") as acc:
        assert acc.decide(odd).equals(decide_numpy(rows))
        assert acc.decide(strided).equals(decide_numpy(rows))
        assert np.array_equal(acc.validate(rows).reasons, decide_numpy(rows).reasons)


def test_threads_parameter() -> None:
    for bad in (0, -1, True):
        with pytest.raises(UsageError, match="threads must be >= 1"):
            create("cpu", threads=bad)
    info = create("cpu", threads=2).describe()
    assert info["backend"] == "cpu" and info["threads"] == 2
