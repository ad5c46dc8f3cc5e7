"""Property tests: decoding untrusted bytes never raises anything but DecodeError."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.descriptor import (
    Capability,
    RiskLevel,
    decode,
    encode,
    validate,
    validate_batch,
    validate_batch_numpy,
)
from tcplab.errors import DecodeError

levels = st.sampled_from([lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN])
caps = st.lists(st.sampled_from(list(Capability)), unique=True)
u16 = st.integers(min_value=0, max_value=0xFFFF)
commands = st.text(min_size=1, max_size=80).filter(lambda s: s.strip() != "")


@given(commands, levels, caps, u16, u16, u16, u16)
def test_encode_then_decode_round_trips_every_valid_input(
    command: str,
    level: RiskLevel,
    capabilities: list[Capability],
    ex: int,
    mem: int,
    out: int,
    vendor: int,
) -> None:
    raw = encode(
        command,
        level,
        capabilities,
        exec_time_ms=ex,
        memory_mb=mem,
        output_kb=out,
        vendor_bits=vendor,
    )
    desc = decode(raw)
    assert desc.risk_level is level
    assert set(desc.capabilities) == {str(c.name) for c in capabilities}
    assert (desc.exec_time_ms, desc.memory_mb, desc.output_kb) == (ex, mem, out)
    assert desc.vendor_bits == vendor
    assert desc.command_length == min(len(command.encode("utf-8")), 0xFFFF)


def _decode_outcome(data: bytes) -> tuple[bool, tuple[str, ...]]:
    try:
        decode(data)
    except DecodeError as exc:
        return False, exc.reasons
    return True, ()


@given(st.binary(max_size=64))
def test_arbitrary_bytes_are_rejected_or_decoded_consistently(data: bytes) -> None:
    ok, reasons = _decode_outcome(data)
    assert ok == (validate(data) == [])
    assert reasons == tuple(r.name for r in validate(data))
    if len(data) == 24:
        res = validate_batch(np.frombuffer(data, dtype=np.uint8).reshape(1, 24))
        assert bool(res.valid[0]) == ok
        assert int(res.reasons[0]) == (0 if ok else int(validate(data)[0]))


@given(commands, levels, caps)
def test_every_single_bit_flip_of_a_valid_descriptor_is_handled(
    command: str, level: RiskLevel, capabilities: list[Capability]
) -> None:
    raw = encode(command, level, capabilities)
    flipped = []
    for bit in range(24 * 8):
        b = bytearray(raw)
        b[bit // 8] ^= 1 << (bit % 8)
        flipped.append(bytes(b))
    arr = np.frombuffer(b"".join(flipped), dtype=np.uint8).reshape(-1, 24)
    batch = validate_batch(arr)
    for i, data in enumerate(flipped):
        ok, reasons = _decode_outcome(data)
        # CRC-32 detects every single-bit error; its low 16 bits do too for 22-byte messages.
        assert not ok
        assert reasons
        assert int(batch.reasons[i]) == int(validate(data)[0])


@settings(max_examples=200)
@given(
    st.lists(st.binary(min_size=24, max_size=24), min_size=1, max_size=50),
    st.lists(st.tuples(commands, levels), max_size=20),
)
def test_batch_equals_scalar_on_every_row(junk: list[bytes], good: list[tuple]) -> None:
    rows = junk + [encode(c, lv) for c, lv in good]
    arr = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 24)
    fast, slow = validate_batch(arr), validate_batch_numpy(arr)
    for i, row in enumerate(rows):
        expected = validate(row)
        code = int(expected[0]) if expected else 0
        assert int(fast.reasons[i]) == code == int(slow.reasons[i])
        assert bool(fast.valid[i]) == (not expected) == bool(slow.valid[i])


def test_batch_handles_unaligned_and_strided_input() -> None:
    rows = b"".join(encode(f"t{i}", "SAFE") for i in range(100))
    buf = np.frombuffer(b"\x00" + rows, dtype=np.uint8)[1:].reshape(-1, 24)  # odd address
    assert validate_batch(buf).valid.all()
    strided = np.frombuffer(rows * 2, dtype=np.uint8).reshape(-1, 24)[::2]
    assert validate_batch(strided).valid.all()


def test_batch_rejects_wrong_shapes_with_usage_error() -> None:
    import pytest

    from tcplab.errors import UsageError

    for bad in (np.zeros((3, 23), np.uint8), np.zeros(24, np.uint8), np.zeros((2, 24), np.int16)):
        with pytest.raises(UsageError, match="N×24 uint8"):
            validate_batch(bad)
    with pytest.raises(UsageError):
        validate_batch([[0] * 24])  # type: ignore[arg-type]
