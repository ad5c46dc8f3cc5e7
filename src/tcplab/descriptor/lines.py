"""Streaming validation of hex descriptor lines in constant memory (``descriptor validate``).

Input is read in chunks of :data:`CHUNK` bytes; lines end with ``\\n``, ``\\r\\n`` or ``\\r``.
Each line is stripped of ASCII whitespace and classified: 48 hex digits become a candidate
descriptor, validated in batches of one chunk by the numpy backend
(:func:`tcplab.descriptor.validate_batch_numpy`, pinned to the scalar path and the numba kernel
by the tests); other non-empty text with a non-hex character is ``HEX``; the rest is ``LENGTH``.
The numpy backend validates a million rows in about 0.1 s, while importing numba and loading
its compiled kernel costs about a second, which would dominate this command.
A line longer than :data:`MAX_LINE` is never held in memory: :class:`_LongLine` follows it
piece by piece and gives the same verdict as the per-line rule (:func:`classify_line`).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Iterator

from tcplab.descriptor._codec import DESCRIPTOR_SIZE
from tcplab.descriptor._flags import Reason

__all__ = ["CHUNK", "MAX_LINE", "classify_line", "iter_line_reasons"]

CHUNK = 1 << 20
MAX_LINE = 1 << 16
_HEX_DIGITS = b"0123456789abcdefABCDEF"
_WS = b" \t\n\r\x0b\x0c"
_HEX_LEN = 2 * DESCRIPTOR_SIZE
_HEX, _LENGTH = int(Reason.HEX), int(Reason.LENGTH)


def classify_line(line: bytes) -> tuple[int, bytes | None]:
    """``(reason, None)`` for a line that cannot be a descriptor, else ``(0, the 24 bytes)``."""
    s = line.strip(_WS)
    if len(s) == _HEX_LEN:
        try:
            return 0, binascii.unhexlify(s)
        except binascii.Error:
            return _HEX, None
    if s and s.translate(None, _HEX_DIGITS):
        return _HEX, None
    return _LENGTH, None


class _LongLine:
    """The verdict of :func:`classify_line` for a line fed in pieces (bounded memory)."""

    def __init__(self) -> None:
        self.started = False  # a non-whitespace byte was seen
        self.length = 0  # stripped length so far (up to the last non-whitespace byte)
        self.trailing = 0  # whitespace bytes after the last non-whitespace byte
        self.nonhex = False  # a non-hex byte inside the stripped text
        self.head = b""  # the first 49 bytes of the stripped text

    def feed(self, piece: bytes) -> None:
        if not self.started:
            piece = piece.lstrip(_WS)
            if not piece:
                return
            self.started = True
        core = piece.rstrip(_WS)
        if not core:
            self.trailing += len(piece)
            return
        if self.trailing or core.translate(None, _HEX_DIGITS):
            self.nonhex = True  # inner whitespace is not hex either
        if len(self.head) <= _HEX_LEN:
            gap = b" " * min(self.trailing, _HEX_LEN + 1)
            self.head = (self.head + gap + core)[: _HEX_LEN + 1]
        self.length += self.trailing + len(core)
        self.trailing = len(piece) - len(core)

    def verdict(self) -> tuple[int, bytes | None]:
        if self.length == _HEX_LEN and not self.nonhex:
            return classify_line(self.head)
        if self.nonhex:
            return _HEX, None
        return _LENGTH, None


def _classify_many(lines: list[bytes]) -> tuple[list[int], bytes, list[int]]:
    """Reasons per line (0 for candidates), the candidates' bytes, and their positions."""
    if lines and all(len(line) == _HEX_LEN for line in lines):
        try:  # the common case: one C call for the whole batch
            return [0] * len(lines), binascii.unhexlify(b"".join(lines)), list(range(len(lines)))
        except binascii.Error:
            pass
    reasons = [0] * len(lines)
    raws: list[bytes] = []
    where: list[int] = []
    for i, line in enumerate(lines):
        reason, raw = classify_line(line)
        if raw is None:
            reasons[i] = reason
        else:
            raws.append(raw)
            where.append(i)
    return reasons, b"".join(raws), where


def _validated(lines: list[bytes], tail: tuple[int, bytes | None] | None = None) -> list[int]:
    """Reason codes of ``lines`` (plus a long line's verdict first) after batch validation."""
    reasons, packed, where = _classify_many(lines)
    if tail is not None:
        reason, raw = tail
        reasons.insert(0, reason)
        where = [i + 1 for i in where]
        if raw is not None:
            packed, where = raw + packed, [0, *where]
    if where:
        import numpy as np

        from tcplab.descriptor._batch import validate_batch_numpy

        rows = np.frombuffer(packed, dtype=np.uint8).reshape(len(where), DESCRIPTOR_SIZE)
        codes = validate_batch_numpy(rows).reasons.tolist()
        for i, code in zip(where, codes, strict=True):
            reasons[i] = code
    return reasons


def _cut(buf: bytes) -> int:
    """Index just after the last line break whose meaning is certain (-1 when none).

    A ``\\r`` at the very end may be the first half of ``\\r\\n``, so it does not count.
    """
    return max(buf.rfind(b"\n"), buf.rfind(b"\r", 0, len(buf) - 1)) + 1 or -1


def iter_line_reasons(
    read: Callable[[int], bytes], chunk: int = CHUNK, max_line: int = MAX_LINE
) -> Iterator[list[int]]:
    """Yield the reason codes of consecutive batches of lines read with ``read(n)``.

    Memory stays below a few times ``chunk + max_line`` bytes whatever the input.
    """
    carry = b""
    long: _LongLine | None = None
    while data := read(chunk):
        buf = carry + data
        cut = _cut(buf)
        if cut < 0:
            if long is None and len(buf) <= max_line:
                carry = buf
                continue
            long = long or _LongLine()
            held = 1 if buf.endswith(b"\r") else 0
            long.feed(buf[: len(buf) - held])
            carry = buf[len(buf) - held :]
            continue
        lines, carry = buf[:cut].splitlines(), buf[cut:]
        tail = None
        if long is not None:
            long.feed(lines.pop(0))
            tail, long = long.verdict(), None
        yield _validated(lines, tail)
        if len(carry) > max_line:
            long = _LongLine()
            held = 1 if carry.endswith(b"\r") else 0
            long.feed(carry[: len(carry) - held])
            carry = carry[len(carry) - held :]
    rest = carry.splitlines()
    if long is not None:
        long.feed(rest.pop(0) if rest else b"")
        yield _validated(rest, long.verdict())
    elif rest:
        yield _validated(rest)
