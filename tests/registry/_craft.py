"""Helpers that build deliberately broken ``.tcpdb`` files (fields rewritten, CRC re-sealed)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from tcplab.descriptor import encode
from tcplab.registry import write_registry

HEADER = struct.Struct("<8sHHIQQQQQII")
LEVELS = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]


def entries(n: int, prefix: str = "cmd") -> list[tuple[str, bytes]]:
    return [(f"{prefix}{i}", encode(f"{prefix}{i}", LEVELS[i % 5])) for i in range(n)]


def valid_bytes(tmp: Path, n: int = 8) -> bytes:
    path = tmp / "seed.tcpdb"
    write_registry(path, entries(n))
    return path.read_bytes()


def reseal(data: bytes | bytearray) -> bytes:
    """Recompute the whole-file CRC so that only the structural checks can refuse the file."""
    buf = bytearray(data)
    if len(buf) < 64:
        return bytes(buf)
    crc = zlib.crc32(bytes(buf[64:]), zlib.crc32(bytes(buf[:56])))
    buf[56:60] = crc.to_bytes(4, "little")
    return bytes(buf)


def fields(data: bytes) -> dict[str, int]:
    _m, _f, _d, _r, n, d_off, no_off, s_off, s_n, _crc, _r2 = HEADER.unpack_from(data)
    return {"n": n, "desc": d_off, "names": no_off, "slots": s_off, "slots_n": s_n}


def with_header(data: bytes, **changes: int) -> bytes:
    """Rewrite header fields (n, desc, names, slots, slots_n) and re-seal."""
    vals = list(HEADER.unpack_from(data))
    index = {"n": 4, "desc": 5, "names": 6, "slots": 7, "slots_n": 8}
    for key, value in changes.items():
        vals[index[key]] = value
    return reseal(HEADER.pack(*vals) + data[64:])


def with_slots(data: bytes, value: int) -> bytes:
    """Every hash slot set to ``value`` (a full table when value > 0)."""
    f = fields(data)
    buf = bytearray(data)
    buf[f["slots"] : f["slots"] + 4 * f["slots_n"]] = struct.pack("<I", value) * f["slots_n"]
    return reseal(buf)


def with_name_offsets(data: bytes, offsets: list[int]) -> bytes:
    f = fields(data)
    assert len(offsets) == f["n"] + 1
    buf = bytearray(data)
    buf[f["names"] : f["names"] + 8 * len(offsets)] = struct.pack(f"<{len(offsets)}Q", *offsets)
    return reseal(buf)


def name_offsets(data: bytes) -> list[int]:
    f = fields(data)
    return list(struct.unpack_from(f"<{f['n'] + 1}Q", data, f["names"]))
