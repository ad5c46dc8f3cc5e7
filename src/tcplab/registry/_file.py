"""The ``.tcpdb`` registry file: many descriptors keyed by command name, memory-mapped.

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
      60  u32 reserved (0)
    then the tables, then the name blob (UTF-8 names, concatenated in entry order)

Commands are stored by their full name, so two commands whose 4-byte MD5 prefixes collide are
both kept and told apart. Opening verifies the header and the whole-file CRC (a few ms for
100,000 entries) but parses no entry; lookup is an O(1) hash probe into the mapped file.
"""

from __future__ import annotations

import mmap
import os
import struct
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType

import numpy as np
import numpy.typing as npt

from tcplab.descriptor import DESCRIPTOR_SIZE, FORMAT_VERSION, Descriptor, unpack
from tcplab.errors import CommandNotFoundError, RegistryFormatError, UsageError

__all__ = ["REGISTRY_FORMAT_VERSION", "REGISTRY_MAGIC", "Registry", "write_registry"]

REGISTRY_MAGIC = b"\x89TCPDB\r\n"
REGISTRY_FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sHHIQQQQQII")
_HEADER_SIZE = 64
_CRC_OFFSET = 56
_U32 = struct.Struct("<I")
_U64X2 = struct.Struct("<QQ")
assert _HEADER.size == _HEADER_SIZE


def _slot_count(n: int) -> int:
    s = 8
    while s < 2 * n:
        s <<= 1
    return s


def _name_key(name: bytes) -> int:
    return zlib.crc32(name)


def write_registry(path: str | os.PathLike[str], entries: Iterable[tuple[str, bytes]]) -> int:
    """Write a registry atomically (temp file + rename); return the number of entries.

    ``entries`` are ``(command, 24-byte descriptor)`` pairs; callers validate them first
    (:func:`tcplab.registry.build_from_rows` does).

    Raises:
        UsageError: duplicate or empty command names, or a descriptor not 24 bytes long.
    """
    items = sorted(((c.encode("utf-8"), d) for c, d in entries), key=lambda kv: kv[0])
    for i, (name, desc) in enumerate(items):
        if not name:
            raise UsageError("empty command name")
        if len(desc) != DESCRIPTOR_SIZE:
            raise UsageError(f"descriptor for {name!r} is {len(desc)} bytes, not 24")
        if i and items[i - 1][0] == name:
            raise UsageError(f"duplicate command {name.decode('utf-8', 'replace')!r}")
    n = len(items)
    slots_n = _slot_count(n)
    desc_off = _HEADER_SIZE
    names_off_off = desc_off + n * DESCRIPTOR_SIZE
    slots_off = names_off_off + (n + 1) * 8
    name_offsets = np.zeros(n + 1, dtype="<u8")
    pos = 0
    for i, (name, _d) in enumerate(items):
        name_offsets[i] = pos
        pos += len(name)
    name_offsets[n] = pos
    slots = np.zeros(slots_n, dtype="<u4")
    mask = slots_n - 1
    for i, (name, _d) in enumerate(items):
        h = _name_key(name) & mask
        while slots[h]:
            h = (h + 1) & mask
        slots[h] = i + 1
    body = b"".join(
        [
            b"".join(d for _n, d in items),
            name_offsets.tobytes(),
            slots.tobytes(),
            b"".join(nm for nm, _d in items),
        ]
    )
    size = _HEADER_SIZE + len(body)
    head = _HEADER.pack(
        REGISTRY_MAGIC,
        REGISTRY_FORMAT_VERSION,
        FORMAT_VERSION,
        0,
        n,
        desc_off,
        names_off_off,
        slots_off,
        slots_n,
        0,
        0,
    )
    crc = zlib.crc32(body, zlib.crc32(head[:_CRC_OFFSET]))
    head = head[:_CRC_OFFSET] + struct.pack("<II", crc, 0)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(head)
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    assert size == target.stat().st_size
    return n


class Registry:
    """A read-only, memory-mapped ``.tcpdb`` registry.

    Use as a context manager or call :meth:`close`. Lookups return raw bytes
    (:meth:`get_bytes`) or decoded descriptors (:meth:`lookup`).

    Raises:
        RegistryFormatError: on open, when the file is truncated, corrupted or of another version;
            the message names the file and the problem.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                if size < _HEADER_SIZE:
                    raise self._bad(f"truncated: {size} bytes, smaller than the 64-byte header")
                self._mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except FileNotFoundError as exc:
            raise RegistryFormatError(f"{self.path}: no such registry file") from exc
        except IsADirectoryError as exc:
            raise RegistryFormatError(f"{self.path}: is a directory, not a registry") from exc
        except PermissionError as exc:
            raise RegistryFormatError(f"{self.path}: permission denied") from exc
        try:
            self._check(size)
        except BaseException:
            self._mm.close()
            raise

    def _bad(self, what: str) -> RegistryFormatError:
        return RegistryFormatError(f"{self.path}: not a usable tcplab registry: {what}")

    def _check(self, size: int) -> None:
        mm = self._mm
        (magic, fver, dver, _r, n, d_off, no_off, s_off, s_n, crc, _r2) = _HEADER.unpack_from(mm)
        if magic != REGISTRY_MAGIC:
            raise self._bad(f"bad magic {magic!r} (expected {REGISTRY_MAGIC!r})")
        if fver != REGISTRY_FORMAT_VERSION:
            raise self._bad(
                f"registry format version {fver} is not supported (this tcplab reads "
                f"{REGISTRY_FORMAT_VERSION}); rebuild it with this version of tcplab"
            )
        if dver != FORMAT_VERSION:
            raise self._bad(f"descriptor format version {dver} is not supported")
        expected_min = _HEADER_SIZE + n * DESCRIPTOR_SIZE + (n + 1) * 8 + s_n * 4
        if (
            d_off != _HEADER_SIZE
            or no_off != d_off + n * DESCRIPTOR_SIZE
            or s_off != no_off + (n + 1) * 8
            or s_n < 8
            or s_n & (s_n - 1)
            or size < expected_min
        ):
            raise self._bad(f"truncated or inconsistent tables ({size} bytes for {n} entries)")
        actual = zlib.crc32(memoryview(mm)[_HEADER_SIZE:], zlib.crc32(mm[:_CRC_OFFSET]))
        if actual != crc:
            raise self._bad(f"checksum mismatch (stored {crc:08x}, computed {actual:08x})")
        self._n: int = int(n)
        self._names = np.frombuffer(mm, dtype="<u8", count=n + 1, offset=no_off)
        self._slots = np.frombuffer(mm, dtype="<u4", count=s_n, offset=s_off)
        self._blob = no_off + (n + 1) * 8 + s_n * 4
        if int(self._names[n]) != size - self._blob:
            raise self._bad("name table does not match the file size")
        self._mask = s_n - 1
        self._no_off = no_off
        self._s_off = s_off

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release the mapping (arrays taken from it must not be used afterwards)."""
        if not self._mm.closed:
            del self._names, self._slots
            self._mm.close()

    def __len__(self) -> int:
        return self._n

    def name_at(self, i: int) -> str:
        """Command name of entry ``i`` (entries are sorted by UTF-8 name)."""
        a, b = int(self._names[i]), int(self._names[i + 1])
        return self._mm[self._blob + a : self._blob + b].decode("utf-8")

    def bytes_at(self, i: int) -> bytes:
        """The 24 descriptor bytes of entry ``i``."""
        off = _HEADER_SIZE + i * DESCRIPTOR_SIZE
        return self._mm[off : off + DESCRIPTOR_SIZE]

    def index_of(self, command: str) -> int:
        """Entry index of ``command`` or -1 (O(1) expected: one hash probe sequence)."""
        name = command.encode("utf-8")
        mm, mask, blob = self._mm, self._mask, self._blob
        s_off, no_off = self._s_off, self._no_off
        h = zlib.crc32(name) & mask
        while True:
            (idx,) = _U32.unpack_from(mm, s_off + 4 * h)
            if idx == 0:
                return -1
            a, b = _U64X2.unpack_from(mm, no_off + 8 * (idx - 1))
            if mm[blob + a : blob + b] == name:
                return int(idx) - 1
            h = (h + 1) & mask

    def get_bytes(self, command: str) -> bytes | None:
        """The raw 24 bytes for ``command`` (not validated), or None when absent."""
        i = self.index_of(command)
        return None if i < 0 else self.bytes_at(i)

    def __contains__(self, command: object) -> bool:
        return isinstance(command, str) and self.index_of(command) >= 0

    def lookup(self, command: str) -> Descriptor:
        """Decode the descriptor of ``command`` (the file checksum was verified on open).

        Raises:
            CommandNotFoundError: the registry has no entry for ``command``.
        """
        raw = self.get_bytes(command)
        if raw is None:
            raise CommandNotFoundError(f"{command!r} is not in registry {self.path}")
        return unpack(raw)

    def items(self) -> Iterator[tuple[str, bytes]]:
        """``(command, bytes)`` pairs in name order."""
        for i in range(self._n):
            yield self.name_at(i), self.bytes_at(i)

    def descriptor_array(self) -> npt.NDArray[np.uint8]:
        """All descriptors as an ``N×24`` uint8 array (a copy, safe after close)."""
        return (
            np.frombuffer(
                self._mm, dtype=np.uint8, count=self._n * DESCRIPTOR_SIZE, offset=_HEADER_SIZE
            )
            .reshape(self._n, DESCRIPTOR_SIZE)
            .copy()
        )

    def info(self) -> dict[str, object]:
        """Summary for ``tcplab registry info``."""
        return {
            "path": str(self.path),
            "entries": self._n,
            "registry_format_version": REGISTRY_FORMAT_VERSION,
            "descriptor_format_version": FORMAT_VERSION,
            "file_bytes": self.path.stat().st_size,
            "hash_slots": self._mask + 1,
        }
