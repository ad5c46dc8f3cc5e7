"""The ``.tcpdb`` registry file: many descriptors keyed by command name, memory-mapped.

The layout is documented in :mod:`tcplab.registry._layout` and ``docs/format.md``. Commands are
stored by their full name, so two commands whose 4-byte MD5 prefixes collide are both kept and
told apart. Opening verifies the header, the whole-file CRC and the two tables but parses no
entry; lookup is an O(1) hash probe into the mapped file, bounded by N + 1 probes whatever the
file holds. This module imports no numpy (the light CLI commands use it).
"""

from __future__ import annotations

import array
import os
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType

from tcplab.descriptor import (
    DESCRIPTOR_SIZE,
    FORMAT_VERSION,
    Decision,
    Descriptor,
    RiskLevel,
    command_hash,
    unpack,
    validate,
)
from tcplab.errors import CommandNotFoundError, RegistryError, RegistryFormatError, UsageError
from tcplab.registry import _cold
from tcplab.registry._layout import (
    CRC_OFFSET,
    HEADER,
    HEADER_SIZE,
    NATIVE_LE,
    REGISTRY_FORMAT_VERSION,
    REGISTRY_MAGIC,
    Layout,
    check_header,
    check_tables,
    slot_count,
)

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    import mmap
    from typing import Any, Literal

    import numpy as np
    import numpy.typing as npt

__all__ = ["REGISTRY_FORMAT_VERSION", "REGISTRY_MAGIC", "Registry", "write_registry"]

ColdDecider = Callable[[str], tuple[RiskLevel, Decision]]


def _le_array(typecode: str, values: Iterable[int]) -> bytes:
    arr = array.array(typecode, values)
    if not NATIVE_LE:  # pragma: no cover - big-endian hosts
        arr.byteswap()
    return arr.tobytes()


def _encode_entries(entries: Iterable[tuple[str, bytes]]) -> list[tuple[bytes, bytes]]:
    items = sorted(((c.encode("utf-8"), bytes(d)) for c, d in entries), key=lambda kv: kv[0])
    for i, (name, desc) in enumerate(items):
        if not name:
            raise UsageError("empty command name")
        if len(desc) != DESCRIPTOR_SIZE:
            raise UsageError(f"descriptor for {name!r} is {len(desc)} bytes, not 24")
        if i and items[i - 1][0] == name:
            raise UsageError(f"duplicate command {name.decode('utf-8', 'replace')!r}")
    return items


def _file_bytes(
    items: list[tuple[bytes, bytes]], version: int = REGISTRY_FORMAT_VERSION, tail: bytes = b""
) -> bytes:
    n = len(items)
    slots_n = slot_count(n)
    names_off = HEADER_SIZE + n * DESCRIPTOR_SIZE
    offsets = [0] * (n + 1)
    for i, (name, _d) in enumerate(items):
        offsets[i + 1] = offsets[i] + len(name)
    slots = [0] * slots_n
    mask = slots_n - 1
    for i, (name, _d) in enumerate(items):
        h = zlib.crc32(name) & mask
        while slots[h]:
            h = (h + 1) & mask
        slots[h] = i + 1
    body = b"".join(
        [
            b"".join(d for _n, d in items),
            _le_array("Q", offsets),
            _le_array("I", slots),
            b"".join(nm for nm, _d in items),
            tail,
        ]
    )
    fields = (REGISTRY_MAGIC, version, FORMAT_VERSION, 0, n, HEADER_SIZE)
    head = HEADER.pack(*fields, names_off, names_off + (n + 1) * 8, slots_n, 0, len(tail))
    crc = zlib.crc32(body, zlib.crc32(head[:CRC_OFFSET]))
    return head[:CRC_OFFSET] + crc.to_bytes(4, "little") + head[CRC_OFFSET + 4 :] + body


def write_registry(path: str | os.PathLike[str], entries: Iterable[tuple[str, bytes]]) -> int:
    """Write a registry atomically (temp file + ``fsync`` + rename); return the entry count.

    ``entries`` are ``(command, 24-byte descriptor)`` pairs; callers validate them first
    (:func:`tcplab.registry.check_rows` does).

    Raises:
        UsageError: duplicate or empty command names, a descriptor not 24 bytes long, or a
            target that is a directory.
        RegistryError: the file cannot be written (permissions, full disk...).
    """
    return write_bytes_atomic(path, _file_bytes(_encode_entries(entries)))


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> int:
    """Write a registry file's bytes atomically; return the entry count stored in the header."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"{target}: is a directory; give the registry file to write (.tcpdb)")
    import tempfile

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise RegistryError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise RegistryError(f"{target}: cannot write: {exc.strerror or exc}") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return int(HEADER.unpack_from(data)[4])


def _map_file(path: Path) -> mmap.mmap:
    """Open and map a regular file read-only; every failure is a RegistryFormatError."""
    import mmap

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise RegistryFormatError(f"{path}: no such registry file") from exc
    except PermissionError as exc:
        raise RegistryFormatError(f"{path}: permission denied") from exc
    except OSError as exc:  # symlink loop, name too long, I/O error...
        raise RegistryFormatError(f"{path}: cannot open: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise RegistryFormatError(f"{path}: is a directory, not a registry")
        if not stat.S_ISREG(st.st_mode):
            raise RegistryFormatError(f"{path}: not a regular file")
        if st.st_size < HEADER_SIZE:
            raise RegistryFormatError(
                f"{path}: not a usable tcplab registry: truncated: {st.st_size} bytes, "
                "smaller than the 64-byte header"
            )
        return mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise RegistryFormatError(f"{path}: cannot map: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def _table_view(mm: mmap.mmap, start: int, nbytes: int, typecode: Literal["I", "Q"]) -> Any:
    """A read-only typed view of a table (a byte-swapped copy on big-endian hosts)."""
    if NATIVE_LE:
        with memoryview(mm) as whole:
            return whole[start : start + nbytes].cast(typecode)
    arr = array.array(typecode, mm[start : start + nbytes])  # pragma: no cover
    arr.byteswap()  # pragma: no cover
    return memoryview(arr)  # pragma: no cover


class Registry:
    """A read-only, memory-mapped ``.tcpdb`` registry.

    Use as a context manager or call :meth:`close`. Lookups return raw bytes
    (:meth:`get_bytes`) or decoded descriptors (:meth:`lookup`); :meth:`decide_cold` is the
    per-decision cold path (compiled when a C compiler is available, else pure Python).

    Raises:
        RegistryFormatError: on open, when the path is not a regular file or the file is
            truncated, corrupted, inconsistent or of another version; the message names the file
            and the problem.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._views: list[memoryview] = []
        self._native: Any = None
        self._fast: ColdDecider | None = None
        mm = _map_file(self.path)
        try:
            layout = self._checked_layout(mm)
        except BaseException:
            mm.close()
            raise
        self._mm = mm
        self._layout = layout
        self.version = layout.version
        self._n = layout.n
        self._mask = layout.slots_n - 1
        self._blob = layout.blob_off
        self._offs = self._view(layout.names_off, 8 * (layout.n + 1), "Q")
        self._slots = self._view(layout.slots_off, 4 * layout.slots_n, "I")

    def _bad(self, what: str) -> RegistryFormatError:
        return RegistryFormatError(f"{self.path}: not a usable tcplab registry: {what}")

    def _checked_layout(self, mm: mmap.mmap) -> Layout:
        layout, problem = check_header(mm, len(mm))
        if layout is None:
            raise self._bad(problem)
        offs = mm[layout.names_off : layout.slots_off]
        slots = mm[layout.slots_off : layout.blob_off]
        problem = check_tables(offs, slots, layout.n, layout.blob_len)
        if problem:
            raise self._bad(problem)
        return layout

    def _view(self, start: int, nbytes: int, typecode: Literal["I", "Q"]) -> Any:
        view = _table_view(self._mm, start, nbytes, typecode)
        self._views.append(view)
        return view

    def __enter__(self) -> Registry:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` has run."""
        return self._mm.closed

    def close(self) -> None:
        """Release the mapping (idempotent). Lookups on a closed registry raise ValueError."""
        if self._mm.closed:
            return
        if self._native is not None:
            self._native.release()
        for view in self._views:
            view.release()
        self._views.clear()
        self._mm.close()

    def __len__(self) -> int:
        return self._n

    def _check_index(self, i: int) -> int:
        if not 0 <= i < self._n:
            raise IndexError(f"entry index {i} out of range for {self._n} entries")
        return i

    def name_bytes_at(self, i: int) -> bytes:
        """The raw UTF-8 bytes of entry ``i``'s name."""
        self._check_index(i)
        return self._mm[self._blob + self._offs[i] : self._blob + self._offs[i + 1]]

    def name_at(self, i: int) -> str:
        """Command name of entry ``i`` (entries are sorted by UTF-8 name).

        Raises:
            RegistryFormatError: the stored name is not UTF-8.
        """
        raw = self.name_bytes_at(i)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise self._bad(f"entry {i}: the name {raw!r} is not UTF-8") from None

    def bytes_at(self, i: int) -> bytes:
        """The 24 descriptor bytes of entry ``i``."""
        off = HEADER_SIZE + self._check_index(i) * DESCRIPTOR_SIZE
        return self._mm[off : off + DESCRIPTOR_SIZE]

    def index_of(self, command: str) -> int:
        """Entry index of ``command`` or -1 (O(1) expected; never more than N + 1 probes)."""
        try:
            name = command.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: no stored (UTF-8) name can match
            return -1
        mm, slots, offs, blob, mask = self._mm, self._slots, self._offs, self._blob, self._mask
        h = zlib.crc32(name) & mask
        for _ in range(self._n + 1):
            idx = slots[h]
            if not idx:
                return -1
            a = blob + offs[idx - 1]
            if mm[a : blob + offs[idx]] == name:
                return int(idx) - 1
            h = (h + 1) & mask
        return -1  # unreachable for a checked file: N occupied slots leave an empty one

    def node_section(self) -> bytes:
        """The raw node section of a version-3 registry (empty for version 1)."""
        start = self._layout.blob_off + self._layout.blob_len
        return self._mm[start : start + self._layout.node_len]

    def tables(self) -> tuple[Any, Any, Any, int, int, int]:
        """``(mapping, slot view, name-offset view, blob offset, slot mask, N)`` for fast paths."""
        return self._mm, self._slots, self._offs, self._blob, self._mask, self._n

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
        """``(command, bytes)`` pairs in name order.

        Raises:
            RegistryFormatError: a stored name is not UTF-8.
        """
        for i in range(self._n):
            yield self.name_at(i), self.bytes_at(i)

    def entry_problems(self, i: int) -> list[str]:
        """Reason codes why entry ``i`` cannot be trusted (empty when it is fine).

        ``LENGTH``/``MAGIC``/``VERSION``/``CHECKSUM`` (the descriptor is structurally invalid),
        ``NAME_NOT_UTF8``, ``HASH_MISMATCH``/``LENGTH_MISMATCH`` (the descriptor is not the
        named command's), ``UNSORTED`` (out of name order or a duplicate), ``UNREACHABLE``
        (the hash table does not lead to it).
        """
        raw, name = self.bytes_at(i), self.name_bytes_at(i)
        problems = [r.name for r in validate(raw)]
        try:
            text: str | None = name.decode("utf-8")
        except UnicodeDecodeError:
            text = None
            problems.append("NAME_NOT_UTF8")
        if text is not None and not problems:
            desc = unpack(raw)
            if desc.command_hash != command_hash(text):
                problems.append("HASH_MISMATCH")
            if desc.command_length != min(len(name), 0xFFFF):
                problems.append("LENGTH_MISMATCH")
        if i and self.name_bytes_at(i - 1) >= name:
            problems.append("UNSORTED")
        if text is not None and self.index_of(text) != i:
            problems.append("UNREACHABLE")
        return problems

    def invalid_entries(self) -> list[tuple[int, str, list[str]]]:
        """Every entry that cannot be trusted: ``(index, printable name, reason codes)``."""
        out: list[tuple[int, str, list[str]]] = []
        for i in range(self._n):
            problems = self.entry_problems(i)
            if problems:
                out.append((i, self.name_bytes_at(i).decode("utf-8", "replace"), problems))
        return out

    def descriptor_array(self) -> npt.NDArray[np.uint8]:
        """All descriptors as an ``N×24`` uint8 array (a copy, safe after close; needs numpy)."""
        import numpy as np

        data = self._mm[HEADER_SIZE : HEADER_SIZE + self._n * DESCRIPTOR_SIZE]
        return np.frombuffer(data, dtype=np.uint8).reshape(self._n, DESCRIPTOR_SIZE).copy()

    def cold_decider(self, native: bool | None = None) -> ColdDecider:
        """The cold per-decision function ``command -> (RiskLevel, Decision)``.

        Each call looks the command up in the mapped file, validates the 24 bytes (magic,
        version, CRC) and decodes the risk; absent or invalid → (UNKNOWN, REQUIRE_APPROVAL).
        ``native=None`` uses the compiled path when it can be built or loaded, ``True``
        requires it, ``False`` gives the pure-Python path.

        Raises:
            UsageError: ``native=True`` and no compiled path is available.
        """
        if native is False:
            return _cold.python_decider(self)
        if self._native is None:
            self._native = _cold.native_decider(self._mm, self._layout, require=native)
        if self._native is None:
            return _cold.python_decider(self)
        fn: ColdDecider = self._native.decide
        return fn

    def decide_cold(self, command: str) -> tuple[RiskLevel, Decision]:
        """One cold decision (see :meth:`cold_decider`).

        The first call picks the fastest available path and stores it on the instance, so
        ``registry.decide_cold`` then is that function itself (a compiled call when a C
        compiler is available).
        """
        fast = self._fast
        if fast is None:
            fast = self._fast = self.cold_decider()
            self.__dict__["decide_cold"] = fast
        return fast(command)

    def info(self) -> dict[str, object]:
        """Summary for ``tcplab registry info``."""
        return {
            "path": str(self.path),
            "entries": self._n,
            "registry_format_version": self._layout.version,
            "descriptor_format_version": FORMAT_VERSION,
            "file_bytes": len(self._mm),
            "hash_slots": self._mask + 1,
        }
