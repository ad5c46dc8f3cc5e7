"""The TCP v2 codec: golden bytes, encoding rules, fail-closed decoding, lint."""

from __future__ import annotations

import hashlib
import zlib

import pytest

from tcplab.descriptor import (
    Capability,
    Decision,
    Descriptor,
    Reason,
    RiskLevel,
    decide,
    decode,
    encode,
    lint,
    parse_hex,
    unpack,
    validate,
)
from tcplab.errors import DecodeError, EncodeError


def _resign(raw: bytes) -> bytes:
    return raw[:22] + (zlib.crc32(raw[:22]) & 0xFFFF).to_bytes(2, "big")


def test_golden_bytes_of_git_descriptor_are_frozen() -> None:
    raw = encode(
        "git",
        RiskLevel.MEDIUM_RISK,
        ["NETWORK_ACCESS", "FILE_MODIFICATION"],
        exec_time_ms=120,
        memory_mb=35,
        output_kb=2,
    )
    assert raw.hex() == (
        "544350020002ba9f11ec000003040078002300020003" + f"{zlib.crc32(raw[:22]) & 0xFFFF:04x}"
    )
    assert raw[6:10] == hashlib.md5(b"git").digest()[:4]
    assert len(raw) == 24


def test_layout_offsets_match_the_format_document() -> None:
    raw = encode("rm", "CRITICAL", ["DESTRUCTIVE"], exec_time_ms=1, memory_mb=2, output_kb=3)
    assert raw[0:4] == b"TCP\x02"
    assert int.from_bytes(raw[4:6], "big") == 2
    assert int.from_bytes(raw[10:14], "big") == (1 << 4) | (1 << 7)
    assert [int.from_bytes(raw[i : i + 2], "big") for i in (14, 16, 18, 20)] == [1, 2, 3, 2]
    assert int.from_bytes(raw[22:24], "big") == zlib.crc32(raw[:22]) & 0xFFFF


@pytest.mark.parametrize("level", [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN])
def test_every_risk_level_round_trips(level: RiskLevel) -> None:
    desc = decode(encode("tool", level))
    assert desc.risk_level is level
    assert desc.decision is decide(level)


def test_policy_maps_levels_to_decisions_fail_closed() -> None:
    assert decide(RiskLevel.CRITICAL) is Decision.REJECT
    assert decide(RiskLevel.HIGH_RISK) is Decision.REQUIRE_APPROVAL
    assert decide(RiskLevel.MEDIUM_RISK) is Decision.CAUTION
    assert decide(RiskLevel.LOW_RISK) is Decision.APPROVE
    assert decide(RiskLevel.SAFE) is Decision.APPROVE
    assert decide(RiskLevel.UNKNOWN) is Decision.REQUIRE_APPROVAL


def test_no_risk_bit_decodes_as_unknown_never_safe() -> None:
    raw = bytearray(encode("x", "SAFE"))
    raw[13] &= ~0x1F & 0xFF
    desc = decode(_resign(bytes(raw)))
    assert desc.risk_level is RiskLevel.UNKNOWN
    assert desc.decision is Decision.REQUIRE_APPROVAL
    assert any("UNKNOWN" in w for w in lint(desc))


def test_highest_risk_bit_wins_and_lint_warns() -> None:
    raw = bytearray(encode("x", "SAFE"))
    raw[13] |= 0b01010
    desc = decode(_resign(bytes(raw)))
    assert desc.risk_level is RiskLevel.HIGH_RISK
    assert any("more than one risk bit" in w for w in lint(desc))
    assert lint(decode(encode("x", "SAFE"))) == []


def test_unknown_risk_encodes_no_risk_bit() -> None:
    desc = decode(encode("mystery", "UNKNOWN"))
    assert desc.flags & 0x1F == 0
    assert desc.risk_level is RiskLevel.UNKNOWN
    assert desc.decision is Decision.REQUIRE_APPROVAL


def test_vendor_bits_are_preserved_and_reported_raw() -> None:
    desc = decode(encode("x", "LOW_RISK", vendor_bits=0xBEEF))
    assert desc.vendor_bits == 0xBEEF
    assert desc.risk_level is RiskLevel.LOW_RISK
    assert desc.capabilities == []


def test_capabilities_decode_in_bit_order() -> None:
    caps = [Capability.PRIVILEGE_ESCALATION, Capability.REQUIRES_ROOT]
    assert decode(encode("sudo", "HIGH_RISK", caps)).capabilities == [
        "REQUIRES_ROOT",
        "PRIVILEGE_ESCALATION",
    ]


def test_long_command_length_is_capped_at_u16() -> None:
    desc = decode(encode("a" * 70_000, "SAFE"))
    assert desc.command_length == 0xFFFF


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"command": "", "risk": "SAFE"}, "non-empty"),
        ({"command": "   ", "risk": "SAFE"}, "non-empty"),
        ({"command": "ls", "risk": "PERILOUS"}, "unknown risk level"),
        ({"command": "ls", "risk": "SAFE", "capabilities": ["TELEPORT"]}, "unknown capability"),
        ({"command": "ls", "risk": "SAFE", "exec_time_ms": 65_536}, "out of range"),
        ({"command": "ls", "risk": "SAFE", "memory_mb": -1}, "out of range"),
        ({"command": "ls", "risk": "SAFE", "output_kb": 1.5}, "integer"),
    ],
)
def test_encoder_refuses_impossible_input_with_typed_error(kwargs: dict, message: str) -> None:
    with pytest.raises(EncodeError, match=message):
        encode(**kwargs)


@pytest.mark.parametrize(
    ("mutate", "reasons"),
    [
        (lambda b: b[:23], ["LENGTH"]),
        (lambda b: b + b"\x00", ["LENGTH"]),
        (lambda b: b"XCP\x02" + b[4:], ["MAGIC", "CHECKSUM"]),
        (lambda b: _resign(b"XCP\x02" + b[4:]), ["MAGIC"]),
        (lambda b: _resign(b[:5] + b"\x03" + b[6:]), ["VERSION"]),
        (lambda b: b[:23] + bytes([b[23] ^ 1]), ["CHECKSUM"]),
    ],
)
def test_each_structural_failure_has_its_reason_code(mutate, reasons: list[str]) -> None:
    bad = mutate(encode("ls", "SAFE"))
    assert [r.name for r in validate(bad)] == reasons
    with pytest.raises(DecodeError) as info:
        decode(bad)
    assert list(info.value.reasons) == reasons


def test_decode_refuses_non_bytes_with_project_error() -> None:
    with pytest.raises(DecodeError):
        decode("not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("zz" * 24, Reason.HEX), ("54435002", Reason.LENGTH), ("", Reason.LENGTH)],
)
def test_parse_hex_reports_hex_and_length(text: str, reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        parse_hex(text)
    assert info.value.reasons == (reason.name,)


def test_parse_hex_accepts_uppercase_and_surrounding_space() -> None:
    raw = encode("ls", "SAFE")
    assert parse_hex(f"  {raw.hex().upper()}\n") == raw


def test_unpack_reads_fields_without_validation() -> None:
    desc = unpack(bytes(24))
    assert isinstance(desc, Descriptor)
    assert desc.risk_level is RiskLevel.UNKNOWN
