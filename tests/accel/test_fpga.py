"""The ``fpga`` backend: the HLS kernel in C simulation (g++), and the XRT host path up to
the wire (no XRT, card or bitstream here: synthesis and hardware runs are not exercised)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from tcplab.accel import (
    create,
    decide_numpy,
    interop_vectors,
    pack,
    random_batch,
    single_bit_corruptions,
)
from tcplab.accel._fpga import CardLock
from tcplab.errors import AcceleratorError, AcceleratorUnavailableError
from tests.accel.fpga_support import HEADER, build_testbench, render_crc_header


def test_crc_table_header_is_generated_from_the_oracle_tables() -> None:
    assert HEADER.read_text(encoding="utf-8") == render_crc_header()


@pytest.fixture(scope="module")
def testbench(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The testbench compiled once with g++ into a temporary directory."""
    return build_testbench(tmp_path_factory.mktemp("hls-csim"))


def test_hls_kernel_c_simulation_is_bit_exact_with_the_oracle(
    testbench: Path, tmp_path: Path
) -> None:
    exe = testbench
    v = interop_vectors()
    rows = np.concatenate([v, single_bit_corruptions(v), random_batch(200_000, seed=18)])
    src = tmp_path / "in.bin"
    src.write_bytes(rows.tobytes())
    a, b = tmp_path / "stream.bin", tmp_path / "mm.bin"
    proc = subprocess.run(
        [str(exe), str(src), str(a), str(b)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"decided {rows.shape[0]} descriptors"
    expected = pack(decide_numpy(rows)).tobytes()
    assert a.read_bytes() == expected  # the AXI-stream top function
    assert b.read_bytes() == expected  # the memory-mapped wrapper the host path runs


def test_wide_load_stage_at_every_tail_length_under_sanitizers(tmp_path: Path) -> None:
    """The memory-mapped wrapper cuts 8 descriptors out of every 3 beats: every batch length
    0..40 (each tail of a 3-beat group, and more) equals the oracle, and AddressSanitizer sees
    no read past the last beat of the padded buffer."""
    exe = build_testbench(tmp_path, sanitize=True)
    pool = np.concatenate([interop_vectors(), random_batch(64, seed=2)])
    for n in range(41):
        rows = pool[:n]
        src = tmp_path / "in.bin"
        src.write_bytes(rows.tobytes())
        a, b = tmp_path / "stream.bin", tmp_path / "mm.bin"
        proc = subprocess.run(
            [str(exe), str(src), str(a), str(b)], capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, f"n={n}: {proc.stderr[-2000:]}"
        expected = pack(decide_numpy(rows)).tobytes() if n else b""
        assert a.read_bytes() == expected and b.read_bytes() == expected, f"n={n}"


def test_testbench_refuses_a_torn_input(testbench: Path, tmp_path: Path) -> None:
    exe = testbench
    src = tmp_path / "in.bin"
    src.write_bytes(bytes(25))
    proc = subprocess.run(
        [str(exe), str(src), "a", "b"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2 and "N x 24" in proc.stderr


def test_without_xrt_available_says_why_and_open_refuses(tmp_path: Path) -> None:
    xclbin = tmp_path / "tcp_decide.xclbin"
    xclbin.write_bytes(b"not a real bitstream")
    acc = create("fpga", xclbin=str(xclbin), lock_dir=str(tmp_path / "locks"))
    ok, why = acc.available()
    assert not ok and "pyxrt is not importable" in why and "setup.sh" in why
    with pytest.raises(AcceleratorUnavailableError, match="pyxrt is not importable"):
        acc.decide(random_batch(4, 1))
    assert not acc.lock.held
    # the path past the availability check: the lock is taken, XRT fails, the lock is freed
    with pytest.raises(AcceleratorUnavailableError):
        acc._open()
    assert not acc.lock.held
    other = CardLock("0", tmp_path / "locks")
    other.acquire()  # nothing was left locked
    other.release()


def test_missing_xclbin_is_reported(tmp_path: Path) -> None:
    ok, why = create("fpga", xclbin=str(tmp_path / "nope.xclbin")).available()
    assert not ok
    assert "pyxrt" in why or "does not exist" in why
    assert create("fpga").describe() == {"backend": "fpga", "device": 0, "xclbin": "None"}


def test_card_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    first, second = CardLock("0000:3b:00.1", tmp_path), CardLock("0000:3b:00.1", tmp_path)
    first.acquire()
    first.acquire()  # idempotent
    with pytest.raises(AcceleratorError, match="in use by another process"):
        second.acquire()
    assert not second.held
    first.release()
    second.acquire()
    assert second.held and second.path.name == "fpga-0000_3b_00_1.lock"
    second.release()
    second.release()  # idempotent
    CardLock("1", tmp_path).acquire()  # another card is independent
