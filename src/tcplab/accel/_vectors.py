"""Reference inputs for checking a backend against the oracle: the interop vectors, their
single-bit corruptions, and seeded random + mutated batches (tests, ``bench/gpu_check.py``).

The interop set is 184 descriptors, built deterministically here: every risk level with
four capability sets, every one of the 32 risk-bit patterns, reserved and vendor bits,
extreme estimates, the golden ``git`` descriptor of ``docs/format.md``, and invalid rows for
each check (bad magic in each byte, bad version, bad checksum, several failures at once).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from tcplab.accel._oracle import crc32_rows
from tcplab.descriptor import Capability, RiskLevel, encode

__all__ = ["interop_vectors", "random_batch", "random_chunks", "single_bit_corruptions"]

Rows = npt.NDArray[np.uint8]


def _reseal(body: bytes) -> bytes:
    return body[:22] + struct.pack(">H", zlib.crc32(body[:22]) & 0xFFFF)


def _with_flags(desc: bytes, flags: int) -> bytes:
    return _reseal(desc[:10] + struct.pack(">I", flags) + desc[14:])


def _valid() -> list[bytes]:
    out: list[bytes] = []
    caps: list[tuple[Capability | str, ...]] = [
        (),
        ("NETWORK_ACCESS",),
        ("DESTRUCTIVE", "REQUIRES_ROOT"),
        tuple(Capability),
    ]
    for level in RiskLevel:  # 6 levels x 4 capability sets = 24
        for c in caps:
            out.append(encode(f"tool-{level.name}-{len(c)}", level, c))
    base = encode("bits", "SAFE")
    out += [_with_flags(base, bits) for bits in range(32)]  # every risk-bit pattern: 32
    for extra in (0x20, 0x1000, 0x8000, 0xF000, 0x10000, 0xFFFF0000, 0xFFFFFFFF, 0x0FC0):
        out.append(_with_flags(base, 0x04 | extra))  # reserved / vendor / capability bits: 8
    for v in (0, 1, 0x7FFF, 0xFFFF):  # estimates: 8
        out.append(encode("est", "LOW_RISK", exec_time_ms=v, memory_mb=v, output_kb=v))
        out.append(encode("x" * 70000 if v == 0xFFFF else f"e{v}", "HIGH_RISK", vendor_bits=v))
    out.append(
        encode(
            "git",
            "MEDIUM_RISK",
            ["NETWORK_ACCESS", "FILE_MODIFICATION"],
            exec_time_ms=120,
            memory_mb=35,
            output_kb=2,
        )
    )
    out += [encode(f"cmd{i}", RiskLevel(i % 5), exec_time_ms=i) for i in range(23)]  # 23
    return out  # 24 + 32 + 8 + 8 + 1 + 23 = 96


def _invalid(valid: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for i, d in enumerate(valid[:24]):  # bad magic, one byte each, resealed: 24
        j = i % 4
        out.append(_reseal(d[:j] + bytes([d[j] ^ 0x40]) + d[j + 1 :]))
    for i, d in enumerate(valid[24:48]):  # bad version (00 01, 01 02, 00 03, ff ff): 24
        ver = (b"\x00\x01", b"\x01\x02", b"\x00\x03", b"\xff\xff")[i % 4]
        out.append(_reseal(d[:4] + ver + d[6:]))
    for i, d in enumerate(valid[48:80]):  # bad checksum (stored CRC off by one bit): 32
        out.append(d[:22] + bytes([d[22] ^ (1 << (i % 8)), d[23]]))
    out.append(bytes(24))  # all zeros
    out.append(b"\xff" * 24)
    out.append(b"TCP\x02" + bytes(20))  # magic only
    out.append(b"TCP\x02\x00\x02" + bytes(18))  # header only, checksum wrong
    out.append(b"TCP\x01\x00\x02" + valid[0][6:])  # v1 magic
    out.append(b"tcp\x02\x00\x02" + valid[0][6:])
    out.append(valid[1][:4] + b"\x00\x02" + valid[1][6:22] + b"\x00\x00")
    out.append(b"TCP\x02\x02\x00" + valid[2][6:])  # version byte-swapped
    return out  # 24 + 24 + 32 + 8 = 88


def interop_vectors() -> Rows:
    """The 184 interop vectors (96 valid, 88 invalid) as a 184×24 uint8 array."""
    valid = _valid()
    rows = valid + _invalid(valid)
    return np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 24).copy()


def single_bit_corruptions(rows: Rows) -> Rows:
    """Every single-bit flip of every row: ``len(rows) * 192`` rows."""
    n = rows.shape[0]
    out = np.repeat(rows, 192, axis=0)
    bit = np.tile(np.arange(192), n)
    out[np.arange(out.shape[0]), bit // 8] ^= (1 << (bit % 8)).astype(np.uint8)
    return out


def random_batch(n: int, seed: int) -> Rows:
    """Random and mutated descriptors: a third pure random bytes, a third valid descriptors
    with random flags/fields resealed, a third valid ones with 1-3 random byte mutations."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, 256, size=(n, 24), dtype=np.uint8)
    k = n // 3
    valid_part = rows[k:]
    valid_part[:, 0:6] = np.frombuffer(b"TCP\x02\x00\x02", dtype=np.uint8)
    crc = crc32_rows(valid_part[:, :22]) & 0xFFFF
    valid_part[:, 22] = (crc >> 8).astype(np.uint8)
    valid_part[:, 23] = (crc & 0xFF).astype(np.uint8)
    mutated = rows[2 * k :]
    for _ in range(3):
        m = (int(mutated.shape[0]),)
        hit = np.asarray(rng.random(m) < 0.6)
        pos = np.asarray(rng.integers(0, 24, size=m))
        val = np.asarray(rng.integers(0, 256, size=m, dtype=np.uint8))
        idx = np.nonzero(hit)[0]
        mutated[idx, pos[idx]] = val[idx]
    return rows


def random_chunks(total: int, chunk: int, seed: int) -> Iterator[Rows]:
    """``total`` rows of :func:`random_batch` in chunks (bounded memory)."""
    done, i = 0, 0
    while done < total:
        m = min(chunk, total - done)
        yield random_batch(m, seed * 1_000_003 + i)
        done, i = done + m, i + 1
