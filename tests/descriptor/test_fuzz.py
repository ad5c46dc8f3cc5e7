"""Fuzz: 10^5+ mutated descriptors through the scalar and batch paths, seeded."""

from __future__ import annotations

import numpy as np

from tcplab.descriptor import Reason, RiskLevel, decode, encode, validate, validate_batch
from tcplab.errors import DecodeError

N_MUTANTS = 120_000


def _seeds() -> list[bytes]:
    levels = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
    return [encode(f"tool-{i}", levels[i % 5], exec_time_ms=i) for i in range(64)]


def test_fuzzed_mutants_never_raise_foreign_errors_and_batch_agrees() -> None:
    rng = np.random.default_rng(20261129)
    base = np.frombuffer(b"".join(_seeds()), dtype=np.uint8).reshape(-1, 24)
    arr = base[rng.integers(0, len(base), N_MUTANTS)].copy()
    # mutate: 1-4 random bytes replaced, bits flipped, or whole rows random
    kind = rng.integers(0, 4, N_MUTANTS)
    for _ in range(4):
        pos = rng.integers(0, 24, N_MUTANTS)
        val = rng.integers(0, 256, N_MUTANTS, dtype=np.uint8)
        mask = kind == 0
        arr[mask, pos[mask]] = val[mask]
    flip = kind == 1
    bit = rng.integers(0, 8, N_MUTANTS).astype(np.uint8)
    pos = rng.integers(0, 24, N_MUTANTS)
    arr[flip, pos[flip]] ^= np.uint8(1) << bit[flip]
    rand = kind == 2
    arr[rand] = rng.integers(0, 256, (int(rand.sum()), 24), dtype=np.uint8)
    # kind 3: untouched valid rows
    batch = validate_batch(arr)
    counts = {r: 0 for r in Reason}
    for i in range(N_MUTANTS):
        row = arr[i].tobytes()
        try:
            desc = decode(row)
        except DecodeError as exc:
            assert exc.reasons
            assert int(batch.reasons[i]) == int(Reason[exc.reasons[0]])
            counts[Reason[exc.reasons[0]]] += 1
        else:
            assert batch.valid[i]
            assert validate(row) == []
            assert desc.risk_level in RiskLevel
            counts[Reason.OK] += 1
    assert counts[Reason.OK] >= N_MUTANTS // 5  # the untouched quarter at least
    assert counts[Reason.MAGIC] and counts[Reason.CHECKSUM]


def test_truncated_and_extended_inputs_are_length_errors() -> None:
    raw = encode("ls", "SAFE")
    for n in range(0, 48):
        data = (raw * 2)[:n]
        try:
            decode(data)
        except DecodeError as exc:
            assert (exc.reasons == ("LENGTH",)) == (n != 24)
