"""The ``.tcpdb`` header and table checks, shared by the reader and the writer (stdlib only).

Layout (little-endian header fields, all offsets absolute, see ``docs/format.md``)::

    header (64 bytes)
      0   8s  magic  b"\\x89TCPDB\\r\\n"
      8   u16 registry format version (1)
      10  u16 descriptor format version (2)
      12  u32 reserved (0)
      16  u64 entry count N
      24  u64 offset of the descriptor table  (N × 24 bytes, entries sorted by name)
      32  u64 offset of the name-offset table ((N+1) × u64 into the name blob)
      40  u64 offset of the hash-slot table  (S × u32, S = power of two ≥ 2N; 0 = empty,
                                              else entry index + 1; key = CRC-32 of the name)
      48  u64 slot count S
      56  u32 CRC-32 of bytes [0, 56) and [64, end)
      60  u32 version 1: reserved (0); version 3: byte length L of the node section
    then the tables, then the name blob (UTF-8 names, concatenated in entry order); version 3
    (the hierarchical "v3" registry, :mod:`tcplab.registry._tree`) appends the L-byte node
    section after the blob

Every check here runs on untrusted bytes: header fields are Python integers (no overflow), every
size is compared with the real file size before anything is read, and the two tables are
validated (name offsets strictly increasing and inside the blob; slot values in range and
exactly N occupied slots) so that a lookup probes at most N + 1 slots and every name is a
distinct slice of the blob.
"""

from __future__ import annotations

import operator
import struct
import sys
import zlib

from tcplab.descriptor import DESCRIPTOR_SIZE, FORMAT_VERSION

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "CRC_OFFSET",
    "HEADER",
    "HEADER_SIZE",
    "REGISTRY_FORMAT_VERSION",
    "REGISTRY_MAGIC",
    "REGISTRY_TREE_VERSION",
    "Layout",
    "check_header",
    "check_tables",
    "slot_count",
]

REGISTRY_MAGIC = b"\x89TCPDB\r\n"
REGISTRY_FORMAT_VERSION = 1
REGISTRY_TREE_VERSION = 3  # tool → subcommand → flag/argument nodes (docs/format.md §3)
_VERSIONS = (REGISTRY_FORMAT_VERSION, REGISTRY_TREE_VERSION)
HEADER = struct.Struct("<8sHHIQQQQQII")
HEADER_SIZE = 64
CRC_OFFSET = 56
assert HEADER.size == HEADER_SIZE
# The tables are read through native memoryview casts; a big-endian host byte-swaps copies.
NATIVE_LE = sys.byteorder == "little"


def slot_count(n: int) -> int:
    """Slots for ``n`` entries: the smallest power of two ≥ 2n, at least 8."""
    s = 8
    while s < 2 * n:
        s <<= 1
    return s


class Layout:
    """Where the tables of a checked registry file are (absolute byte offsets)."""

    __slots__ = (
        "blob_len",
        "blob_off",
        "n",
        "names_off",
        "node_len",
        "slots_n",
        "slots_off",
        "version",
    )

    def __init__(
        self,
        n: int,
        names_off: int,
        slots_off: int,
        slots_n: int,
        blob_off: int,
        blob_len: int,
        version: int = REGISTRY_FORMAT_VERSION,
        node_len: int = 0,
    ) -> None:
        self.n, self.names_off, self.slots_off = n, names_off, slots_off
        self.slots_n, self.blob_off, self.blob_len = slots_n, blob_off, blob_len
        self.version, self.node_len = version, node_len


def check_header(buf: Any, size: int) -> tuple[Layout | None, str]:
    """Check the header, the table bounds and the whole-file CRC of a mapped file.

    Returns ``(layout, "")`` or ``(None, problem)``; reads nothing beyond ``size``.
    """
    if size < HEADER_SIZE:
        return None, f"truncated: {size} bytes, smaller than the 64-byte header"
    magic, fver, dver, _r, n, d_off, no_off, s_off, s_n, crc, tail = HEADER.unpack_from(buf)
    if magic != REGISTRY_MAGIC:
        return None, f"bad magic {magic!r} (expected {REGISTRY_MAGIC!r})"
    if fver not in _VERSIONS:
        return None, (
            f"registry format version {fver} is not supported (this tcplab reads "
            f"{' and '.join(map(str, _VERSIONS))}); rebuild it with this version of tcplab"
        )
    node_len = tail if fver == REGISTRY_TREE_VERSION else 0
    if dver != FORMAT_VERSION:
        return None, f"descriptor format version {dver} is not supported"
    blob_off = HEADER_SIZE + n * DESCRIPTOR_SIZE + (n + 1) * 8 + s_n * 4
    if (
        d_off != HEADER_SIZE
        or no_off != d_off + n * DESCRIPTOR_SIZE
        or s_off != no_off + (n + 1) * 8
        or s_n < 8
        or s_n & (s_n - 1)
        or s_n < 2 * n
        or blob_off + node_len > size
    ):
        return None, (
            f"truncated or inconsistent tables ({size} bytes for {n} entries and {s_n} slots)"
        )
    with memoryview(buf) as whole, whole[HEADER_SIZE:size] as body:
        actual = zlib.crc32(body, zlib.crc32(buf[:CRC_OFFSET]))
    if actual != crc:
        return None, f"checksum mismatch (stored {crc:08x}, computed {actual:08x})"
    blob_len = size - blob_off - node_len
    return Layout(n, no_off, s_off, s_n, blob_off, blob_len, fver, node_len), ""


def _offsets_problem(offs: list[int], blob_len: int) -> str:
    if offs[0] != 0 or offs[-1] != blob_len:
        return (
            f"name table does not match the file size (names span {offs[0]}..{offs[-1]}, "
            f"the name blob holds {blob_len} bytes)"
        )
    if not all(map(operator.lt, offs, offs[1:])):
        return "name offsets are not strictly increasing"
    return ""


def _numpy_problems(offs_b: bytes, slots_b: bytes, n: int, blob_len: int) -> str:
    import numpy as np

    offs = np.frombuffer(offs_b, dtype="<u8")
    slots = np.frombuffer(slots_b, dtype="<u4")
    if int(offs[0]) != 0 or int(offs[-1]) != blob_len:
        return _offsets_problem([int(offs[0]), int(offs[-1])], blob_len)
    if n and not bool((offs[1:] > offs[:-1]).all()):
        return "name offsets are not strictly increasing"
    occupied = int(np.count_nonzero(slots))
    top = int(slots.max())
    return _slots_problem(occupied, top, n)


def _slots_problem(occupied: int, top: int, n: int) -> str:
    if top > n:
        return f"hash slot value {top} is beyond the {n} entries"
    if occupied != n:
        return f"hash slot table has {occupied} occupied slots for {n} entries"
    return ""


def check_tables(
    offs_b: bytes, slots_b: bytes, n: int, blob_len: int, *, use_numpy: bool | None = None
) -> str:
    """Problem with the name-offset and hash-slot tables (raw little-endian bytes), or "".

    ``use_numpy=None`` uses numpy when the process has already imported it (fast for big
    registries) and otherwise a pure-Python pass, so the light CLI commands never import numpy.
    Both passes give the same verdict (the tests pin them to each other).
    """
    if use_numpy is None:
        use_numpy = "numpy" in sys.modules
    if use_numpy:
        return _numpy_problems(offs_b, slots_b, n, blob_len)
    if NATIVE_LE:
        offs = memoryview(offs_b).cast("Q").tolist()
        slots = memoryview(slots_b).cast("I").tolist()
    else:  # pragma: no cover - big-endian hosts
        offs = list(struct.unpack(f"<{n + 1}Q", offs_b))
        slots = list(struct.unpack(f"<{len(slots_b) // 4}I", slots_b))
    problem = _offsets_problem(offs, blob_len)
    if problem:
        return problem
    return _slots_problem(len(slots) - slots.count(0), max(slots), n)
