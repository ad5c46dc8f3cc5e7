"""The numpy oracle equals the scalar decoder/validator of tcplab.descriptor, row by row."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from tcplab.accel import (
    DECISIONS,
    BatchDecision,
    NumpyAccelerator,
    as_rows,
    crc32_rows,
    create,
    decide_numpy,
    default_registry,
    interop_vectors,
    pack,
    random_batch,
    single_bit_corruptions,
    unpack_packed,
)
from tcplab.descriptor import Decision, Reason, RiskLevel, decode, validate, validate_batch
from tcplab.errors import UsageError


def scalar(rows: np.ndarray) -> BatchDecision:
    """The scalar path's answer for every row (first reason, decoded risk and decision)."""
    valid, risk, decision, reasons = [], [], [], []
    for raw in (bytes(r) for r in rows):
        why = validate(raw)
        if why:
            level, code = RiskLevel.UNKNOWN, int(why[0])
        else:
            desc = decode(raw)
            level, code = desc.risk_level, int(Reason.OK)
        valid.append(not why)
        risk.append(int(level))
        reasons.append(code)
        # an invalid descriptor is untrusted: REQUIRE_APPROVAL (docs/format.md)
        decision.append(
            DECISIONS.index(decode(raw).decision if not why else Decision.REQUIRE_APPROVAL)
        )
    return BatchDecision(
        np.array(valid, dtype=bool),
        np.array(risk, dtype=np.int8),
        np.array(decision, dtype=np.uint8),
        np.array(reasons, dtype=np.uint8),
    )


def test_interop_vectors_cover_every_outcome() -> None:
    d = decide_numpy(interop_vectors())
    assert set(d.reasons.tolist()) == {0, 2, 3, 4}
    assert set(d.risk[d.valid].tolist()) == {-1, 0, 1, 2, 3, 4}
    assert set(d.decision.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(interop_vectors(), id="interop-184"),
        pytest.param(single_bit_corruptions(interop_vectors()), id="every-single-bit-flip"),
        pytest.param(random_batch(20_000, seed=7), id="random-and-mutated-20k"),
    ],
)
def test_oracle_equals_the_scalar_decoder(rows: np.ndarray) -> None:
    assert decide_numpy(rows).equals(scalar(rows))


def test_oracle_validate_equals_the_existing_batch_validator() -> None:
    rows = np.concatenate([single_bit_corruptions(interop_vectors()), random_batch(50_000, 3)])
    mine = NumpyAccelerator().validate(rows)
    theirs = validate_batch(rows)
    assert np.array_equal(mine.valid, theirs.valid)
    assert np.array_equal(mine.reasons, theirs.reasons)


def test_textbook_crc_equals_zlib() -> None:
    rows = random_batch(2000, 11)[:, :22]
    assert [int(c) for c in crc32_rows(rows)] == [zlib.crc32(r.tobytes()) for r in rows]


def test_invalid_rows_never_approve() -> None:
    d = decide_numpy(
        np.concatenate([single_bit_corruptions(interop_vectors()), random_batch(30_000, 5)])
    )
    assert (d.risk[~d.valid] == -1).all()
    assert (d.decision[~d.valid] == DECISIONS.index(Decision.REQUIRE_APPROVAL)).all()


def test_pack_round_trips() -> None:
    d = decide_numpy(single_bit_corruptions(interop_vectors()))
    assert unpack_packed(pack(d)).equals(d)


def test_bad_batches_are_usage_errors() -> None:
    for bad in (
        [b"x" * 24],
        np.zeros((3, 23), np.uint8),
        np.zeros((3, 24), np.int16),
        np.zeros(24, np.uint8),
    ):
        with pytest.raises(UsageError):
            as_rows(bad)
    with pytest.raises(
        UsageError, match="unknown accelerator 'tpu'; known: cpu, cuda, fpga, numpy"
    ):
        create("tpu")
    with pytest.raises(UsageError, match="unknown parameters: colour"):
        create("numpy", colour="red")


def test_empty_batch_and_context_manager() -> None:
    with create("numpy") as acc:
        d = acc.decide(np.zeros((0, 24), np.uint8))
    assert all(a.shape == (0,) for a in d)
    assert default_registry().names() == ["cpu", "cuda", "fpga", "numpy"]
