"""Encode, validate and decode single TCP v2 descriptors (pure, stdlib only).

Layout (big-endian, 24 bytes) — the single source of truth, see ``docs/format.md``::

    0-3   magic  54 43 50 02        14-15 u16 exec-time estimate, ms
    4-5   u16 format version = 2    16-17 u16 memory estimate, MB
    6-9   md5(command)[:4]          18-19 u16 output-size estimate, KB
    10-13 u32 security flags        20-21 u16 len(command as UTF-8), capped at 65535
                                    22-23 u16 CRC-32(bytes 0-21) & 0xFFFF
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable

from tcplab.descriptor._flags import (
    RISK_MASK,
    VENDOR_MASK,
    Capability,
    Decision,
    Reason,
    RiskLevel,
    decide,
)
from tcplab.errors import DecodeError, EncodeError

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "DESCRIPTOR_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "Descriptor",
    "checksum",
    "command_hash",
    "decode",
    "encode",
    "lint",
    "parse_hex",
    "unpack",
    "validate",
]

MAGIC = b"TCP\x02"
FORMAT_VERSION = 2
DESCRIPTOR_SIZE = 24
U16_MAX = 0xFFFF
_BODY = struct.Struct(">4sH4sIHHHH")  # bytes 0-21
_FULL = struct.Struct(">4sH4sIHHHHH")  # all 24 bytes


def command_hash(command: str) -> bytes:
    """First 4 bytes of the MD5 digest of the UTF-8 command string."""
    import hashlib  # lazily: decoding never needs it

    return hashlib.md5(command.encode("utf-8"), usedforsecurity=False).digest()[:4]


def checksum(body: bytes) -> int:
    """Low 16 bits of the zlib CRC-32 (ISO-HDLC) of ``body`` (bytes 0-21)."""
    return zlib.crc32(body) & 0xFFFF


_FIELDS = (
    "command_hash",
    "flags",
    "exec_time_ms",
    "memory_mb",
    "output_kb",
    "command_length",
    "version",
    "checksum",
)


class Descriptor:
    """A decoded TCP v2 descriptor (immutable; equality ignores the stored checksum).

    ``flags`` is the raw 32-bit security word; the properties interpret it. (A hand-written
    slotted class rather than a dataclass: importing ``dataclasses`` costs the per-decision CLI
    commands a noticeable part of their start-up.)
    """

    __slots__ = _FIELDS
    command_hash: bytes
    flags: int
    exec_time_ms: int
    memory_mb: int
    output_kb: int
    command_length: int
    version: int
    checksum: int

    def __init__(
        self,
        command_hash: bytes,
        flags: int,
        exec_time_ms: int = 0,
        memory_mb: int = 0,
        output_kb: int = 0,
        command_length: int = 0,
        version: int = FORMAT_VERSION,
        checksum: int = 0,
    ) -> None:
        values = (command_hash, flags, exec_time_ms, memory_mb, output_kb, command_length)
        for name, value in zip(_FIELDS, (*values, version, checksum), strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Descriptor is immutable: cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Descriptor is immutable: cannot delete field {name!r}")

    def _key(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in _FIELDS[:-1])

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Descriptor)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __reduce__(self) -> tuple[type[Descriptor], tuple[object, ...]]:
        return Descriptor, tuple(getattr(self, name) for name in _FIELDS)

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name in _FIELDS)
        return f"Descriptor({inner})"

    @property
    def risk_level(self) -> RiskLevel:
        """Highest risk bit set wins; no risk bit means UNKNOWN (never SAFE)."""
        risk = self.flags & RISK_MASK
        if risk == 0:
            return RiskLevel.UNKNOWN
        return RiskLevel(risk.bit_length() - 1)

    @property
    def capabilities(self) -> list[str]:
        """Names of the capability flags set, in bit order."""
        return Capability.names(self.flags)

    @property
    def vendor_bits(self) -> int:
        """Bits 16-31, preserved verbatim and reported raw."""
        return (self.flags & VENDOR_MASK) >> 16

    @property
    def decision(self) -> Decision:
        """The agent decision for this descriptor's risk level."""
        return decide(self.risk_level)

    def to_json_dict(self) -> dict[str, Any]:
        """The fields of the ``descriptor decode --json`` contract (for a valid descriptor)."""
        return {
            "valid": True,
            "errors": [],
            "version": self.version,
            "command_hash": self.command_hash.hex(),
            "risk_level": self.risk_level.name,
            "capabilities": self.capabilities,
            "decision": self.decision.value,
            "exec_time_ms": self.exec_time_ms,
            "memory_mb": self.memory_mb,
            "output_kb": self.output_kb,
            "command_length": self.command_length,
            "checksum": f"{self.checksum:04x}",
            "flags": f"{self.flags:08x}",
            "vendor_bits": f"{self.vendor_bits:04x}",
        }


def _u16(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise EncodeError(f"{name} must be an integer, got {value!r}")
    if not 0 <= value <= U16_MAX:
        raise EncodeError(f"{name}={value} is out of range: it must fit in u16 (0..{U16_MAX})")
    return value


def encode(
    command: str,
    risk: RiskLevel | str,
    capabilities: Iterable[Capability | str] = (),
    *,
    exec_time_ms: int = 0,
    memory_mb: int = 0,
    output_kb: int = 0,
    vendor_bits: int = 0,
) -> bytes:
    """Encode one descriptor.

    Performance estimates default to 0, which means "unknown" (never an invented constant).

    ``risk`` UNKNOWN sets no risk bit: the descriptor then decodes as UNKNOWN (agents require
    approval), which is how a registry records a tool nothing could be said about.

    Raises:
        EncodeError: empty command, unknown risk level or capability name, or an estimate out
            of u16 range.
    """
    if not isinstance(command, str) or not command.strip():
        raise EncodeError("command must be a non-empty string")
    try:
        level = risk if isinstance(risk, RiskLevel) else RiskLevel.parse(str(risk))
    except ValueError as exc:
        raise EncodeError(str(exc)) from exc
    flags = 0 if level is RiskLevel.UNKNOWN else level.bit
    for cap in capabilities:
        try:
            flags |= int(cap if isinstance(cap, Capability) else Capability.parse(str(cap)))
        except ValueError as exc:
            raise EncodeError(str(exc)) from exc
    if not 0 <= vendor_bits <= U16_MAX:
        raise EncodeError(f"vendor_bits={vendor_bits} must fit in 16 bits")
    flags |= vendor_bits << 16
    raw = command.encode("utf-8")
    body = _BODY.pack(
        MAGIC,
        FORMAT_VERSION,
        command_hash(command),
        flags,
        _u16("exec_time_ms", exec_time_ms),
        _u16("memory_mb", memory_mb),
        _u16("output_kb", output_kb),
        min(len(raw), U16_MAX),
    )
    return body + struct.pack(">H", checksum(body))


def validate(data: bytes) -> list[Reason]:
    """Structural validation: every failed check, in order LENGTH, MAGIC, VERSION, CHECKSUM.

    An empty list means valid. A wrong length stops the other checks. Never raises for ``bytes``.
    """
    if len(data) != DESCRIPTOR_SIZE:
        return [Reason.LENGTH]
    reasons: list[Reason] = []
    if data[0:4] != MAGIC:
        reasons.append(Reason.MAGIC)
    if data[4] != 0 or data[5] != FORMAT_VERSION:
        reasons.append(Reason.VERSION)
    if (data[22] << 8 | data[23]) != checksum(data[:22]):
        reasons.append(Reason.CHECKSUM)
    return reasons


def unpack(data: bytes) -> Descriptor:
    """Unpack 24 bytes into a :class:`Descriptor` without validating them."""
    if len(data) != DESCRIPTOR_SIZE:
        raise DecodeError(
            f"a TCP descriptor is {DESCRIPTOR_SIZE} bytes, got {len(data)}", [Reason.LENGTH.name]
        )
    _magic, version, chash, flags, ex, mem, out, length, crc = _FULL.unpack(data)
    return Descriptor(chash, flags, ex, mem, out, length, version, crc)


def decode(data: bytes | bytearray | memoryview) -> Descriptor:
    """Validate and decode untrusted bytes.

    Raises:
        DecodeError: the bytes are not a valid descriptor; ``reasons`` lists every failed check.
            No other exception escapes for any ``bytes`` input.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"expected bytes, got {type(data).__name__}", [Reason.LENGTH.name])
    raw = bytes(data)
    reasons = validate(raw)
    if reasons:
        names = [r.name for r in reasons]
        raise DecodeError(f"invalid TCP descriptor: {', '.join(names)}", names)
    return unpack(raw)


def lint(desc: Descriptor) -> list[str]:
    """Warnings about a structurally valid descriptor (valid, but probably a mistake)."""
    warnings: list[str] = []
    risk_bits = desc.flags & RISK_MASK
    if risk_bits == 0:
        warnings.append("no risk bit set: decodes as UNKNOWN (agents will require approval)")
    elif risk_bits & (risk_bits - 1):
        names = [RiskLevel(i).name for i in range(5) if risk_bits >> i & 1]
        warnings.append(
            f"more than one risk bit set ({', '.join(names)}): the highest, "
            f"{desc.risk_level.name}, wins"
        )
    if desc.flags & 0x20:
        warnings.append("reserved bit 5 is set")
    if desc.flags & 0xF000:
        warnings.append("reserved bits 12-15 are set")
    return warnings


def parse_hex(text: str) -> bytes:
    """Parse a hex descriptor (surrounding whitespace ignored, either case).

    Raises:
        DecodeError: with reason ``HEX`` for non-hex text, ``LENGTH`` for hex of the wrong size.
    """
    s = text.strip()
    if s[:2] in ("0x", "0X"):
        s = s[2:]
    try:
        raw = bytes.fromhex(s)
    except ValueError:
        raise DecodeError(f"not a hex string: {text[:60]!r}", [Reason.HEX.name]) from None
    if len(raw) != DESCRIPTOR_SIZE or len(s) != 2 * DESCRIPTOR_SIZE:
        raise DecodeError(
            f"a TCP descriptor is {2 * DESCRIPTOR_SIZE} hex characters, got {len(s)}",
            [Reason.LENGTH.name],
        )
    return raw
