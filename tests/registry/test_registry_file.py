"""The .tcpdb registry file: build, lookup, collisions, corruption, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.descriptor import Decision, RiskLevel, command_hash, encode
from tcplab.errors import (
    CommandNotFoundError,
    RegistryBuildError,
    RegistryFormatError,
    UsageError,
)
from tcplab.registry import (
    DecisionCache,
    Registry,
    build_from_csv,
    decide_cold,
    export_csv,
    write_registry,
)

LEVELS = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
# Two names whose MD5 4-byte prefixes collide (found by search, pinned here).
COLLIDING = ("tool139531", "tool187444")


def _entries(n: int) -> list[tuple[str, bytes]]:
    return [(f"cmd{i}", encode(f"cmd{i}", LEVELS[i % 5])) for i in range(n)]


@pytest.fixture
def reg_path(tmp_path: Path) -> Path:
    path = tmp_path / "r.tcpdb"
    write_registry(
        path,
        [
            *_entries(50),
            ("git add", encode("git add", "MEDIUM_RISK")),
            ("ünïcode", encode("ünïcode", "SAFE")),
        ],
    )
    return path


def test_lookup_finds_every_entry_and_decodes_it(reg_path: Path) -> None:
    with Registry(reg_path) as reg:
        assert len(reg) == 52
        for i in range(50):
            assert reg.lookup(f"cmd{i}").risk_level is RiskLevel[LEVELS[i % 5]]
        assert reg.lookup("git add").risk_level is RiskLevel.MEDIUM_RISK
        assert "ünïcode" in reg
        assert "nope" not in reg
        with pytest.raises(CommandNotFoundError, match="nope"):
            reg.lookup("nope")


def test_commands_with_colliding_hash_prefix_are_both_kept(tmp_path: Path) -> None:
    a, b = COLLIDING
    assert command_hash(a) == command_hash(b)
    path = tmp_path / "c.tcpdb"
    write_registry(path, [(a, encode(a, "SAFE")), (b, encode(b, "CRITICAL"))])
    with Registry(path) as reg:
        assert reg.lookup(a).risk_level is RiskLevel.SAFE
        assert reg.lookup(b).risk_level is RiskLevel.CRITICAL


def test_large_registry_round_trips_through_export(tmp_path: Path) -> None:
    path = tmp_path / "big.tcpdb"
    entries = _entries(20_000)
    assert write_registry(path, entries) == 20_000
    with Registry(path) as reg:
        assert reg.get_bytes("cmd12345") == dict(entries)["cmd12345"]
        text = export_csv(reg)
    csv_path = tmp_path / "big.csv"
    csv_path.write_text(text)
    build_from_csv(csv_path, tmp_path / "again.tcpdb")
    assert (tmp_path / "again.tcpdb").read_bytes() == path.read_bytes()


def test_truncated_file_names_the_file_and_the_problem(reg_path: Path) -> None:
    data = reg_path.read_bytes()
    for cut in (0, 10, 64, len(data) // 2, len(data) - 1):
        reg_path.write_bytes(data[:cut])
        with pytest.raises(RegistryFormatError, match=str(reg_path)):
            Registry(reg_path)


@pytest.mark.parametrize("offset", [0, 9, 17, 70, -1])
def test_any_corrupted_byte_is_detected_on_open(reg_path: Path, offset: int) -> None:
    data = bytearray(reg_path.read_bytes())
    data[offset] ^= 0x40
    reg_path.write_bytes(bytes(data))
    with pytest.raises(RegistryFormatError, match=r"r\.tcpdb"):
        Registry(reg_path)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RegistryFormatError, match="no such registry file"):
        Registry(tmp_path / "absent.tcpdb")


def test_write_refuses_duplicates_and_keeps_old_file(reg_path: Path) -> None:
    before = reg_path.read_bytes()
    with pytest.raises(UsageError, match="duplicate"):
        write_registry(reg_path, [("a", encode("a", "SAFE")), ("a", encode("a", "SAFE"))])
    assert reg_path.read_bytes() == before
    assert list(reg_path.parent.glob("*.tmp")) == []


def test_build_from_csv_reports_every_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    good = encode("ls", "SAFE").hex()
    wrong_hash = encode("cat", "SAFE").hex()
    bad_crc = good[:-1] + ("0" if good[-1] != "0" else "1")
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(
        f"command,hex\nls,{good}\nls,{good}\ndog,{wrong_hash}\nls2,zz\nls,{bad_crc}\n,{good}\n"
    )
    out = tmp_path / "out.tcpdb"
    with pytest.raises(RegistryBuildError) as info:
        build_from_csv(csv_path, out)
    problems = "\n".join(info.value.problems)
    assert "line 3: duplicate" in problems
    assert "line 4" in problems and "HASH_MISMATCH" in problems
    assert "line 5" in problems and "HEX" in problems
    assert "line 6" in problems
    assert "line 7: empty command" in problems
    assert not out.exists()


def test_csv_without_required_columns_is_a_usage_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text("name,descriptor\nls,00\n")
    with pytest.raises(UsageError, match="missing command, hex"):
        build_from_csv(csv_path, tmp_path / "o.tcpdb")


def test_cold_and_cached_decisions_agree_and_fail_closed(reg_path: Path) -> None:
    with Registry(reg_path) as reg:
        cache = DecisionCache(reg)
        for name in [f"cmd{i}" for i in range(50)] + ["git add", "unknown-tool"]:
            level, decision = decide_cold(reg, name)
            assert cache.decide(name) is decision
            assert cache.risk(name) is level
        assert decide_cold(reg, "unknown-tool") == (RiskLevel.UNKNOWN, Decision.REQUIRE_APPROVAL)
        assert cache.decide("cmd4") is Decision.REJECT


def test_registry_info_reports_counts(reg_path: Path) -> None:
    with Registry(reg_path) as reg:
        info = reg.info()
    assert info["entries"] == 52
    assert info["registry_format_version"] == 1
