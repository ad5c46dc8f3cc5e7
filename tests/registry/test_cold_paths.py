"""The compiled and the pure-Python cold decision paths give identical answers."""

from __future__ import annotations

import random
from pathlib import Path
from types import ModuleType

import pytest

from tcplab.descriptor import Decision, RiskLevel, encode, validate
from tcplab.registry import DecisionCache, Registry, decide_cold, write_registry
from tcplab.registry._cold import load_native

from ._craft import LEVELS


@pytest.fixture(scope="module")
def native() -> ModuleType:
    module = load_native(build=True)
    if module is None:
        pytest.skip("the compiled cold path could not be built (needs a C compiler and headers)")
    return module


def _mutated(raw: bytes, rng: random.Random) -> bytes:
    buf = bytearray(raw)
    for _ in range(rng.randint(1, 3)):
        buf[rng.randrange(24)] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _random_registry(tmp: Path, rng: random.Random, n: int) -> tuple[Path, list[str]]:
    alphabet = "abcdefgh-_ ünï[]/:"
    names: set[str] = set()
    while len(names) < n:
        names.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12))))
    rows = []
    for name in sorted(names):
        raw = encode(name, rng.choice([*LEVELS, "UNKNOWN"]), vendor_bits=rng.randrange(1 << 16))
        if rng.random() < 0.3:
            raw = _mutated(raw, rng)  # some entries are structurally invalid
        rows.append((name, raw))
    path = tmp / f"r{n}.tcpdb"
    write_registry(path, rows)
    return path, sorted(names)


def test_native_and_python_paths_agree_on_random_registries(
    native: ModuleType, tmp_path: Path
) -> None:
    rng = random.Random(20261202)
    for n in (0, 1, 7, 300):
        path, names = _random_registry(tmp_path, rng, n)
        queries = [*names, "", "absent", "\udcff", "a" * 300, *(n_ + "x" for n_ in names[:20])]
        with Registry(path) as reg:
            fast = reg.cold_decider(native=True)
            slow = reg.cold_decider(native=False)
            assert fast is not slow
            for q in queries:
                assert fast(q) == slow(q), q
                assert reg._native.index(q) == reg.index_of(q), q


def test_cold_path_matches_scalar_validate_and_the_cached_path(
    native: ModuleType, tmp_path: Path
) -> None:
    rng = random.Random(5)
    path, names = _random_registry(tmp_path, rng, 200)
    with Registry(path) as reg:
        for native_path in (True, False):
            decide = reg.cold_decider(native=native_path)
            for name in names:
                raw = reg.get_bytes(name)
                assert raw is not None
                level, decision = decide(name)
                if validate(raw):
                    assert (level, decision) == (RiskLevel.UNKNOWN, Decision.REQUIRE_APPROVAL)
                else:
                    assert level is reg.lookup(name).risk_level
    good = tmp_path / "good.tcpdb"
    write_registry(good, [(f"t{i}", encode(f"t{i}", LEVELS[i % 5])) for i in range(50)])
    with Registry(good) as reg:
        cache = DecisionCache(reg)
        for name in [f"t{i}" for i in range(50)] + ["nope"]:
            assert decide_cold(reg, name) == (cache.risk(name), cache.decide(name))


def test_decide_cold_binds_the_fast_path_on_first_use(native: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "r.tcpdb"
    write_registry(path, [("ls", encode("ls", "SAFE"))])
    with Registry(path) as reg:
        assert reg.decide_cold("ls") == (RiskLevel.SAFE, Decision.APPROVE)
        bound = reg.decide_cold  # now the compiled function itself
        assert type(bound).__name__ == "builtin_function_or_method"
        assert bound("rm") == (RiskLevel.UNKNOWN, Decision.REQUIRE_APPROVAL)


def test_native_decider_refuses_non_strings(native: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "r.tcpdb"
    write_registry(path, [("ls", encode("ls", "SAFE"))])
    with Registry(path) as reg:
        fast = reg.cold_decider(native=True)
        with pytest.raises(TypeError):
            fast(b"ls")  # type: ignore[arg-type]
