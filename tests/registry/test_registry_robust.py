"""Hostile and damaged registry files: bounded lookups, clear one-line refusals, invalid entries."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tcplab.descriptor import encode
from tcplab.errors import RegistryError, RegistryFormatError, UsageError
from tcplab.registry import Registry, export_csv, write_registry
from tcplab.registry._layout import check_tables

from ..conftest import TCPLAB
from ._craft import (
    entries,
    fields,
    name_offsets,
    reseal,
    valid_bytes,
    with_header,
    with_name_offsets,
    with_slots,
)

# A hang must fail the test, not the CI job: every CLI call here has this hard limit.
HANG_LIMIT_S = 60


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(TCPLAB), *args], capture_output=True, text=True, timeout=HANG_LIMIT_S
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"`tcplab {' '.join(args)}` did not finish within {HANG_LIMIT_S} s (hang)")


def assert_one_line_error(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode in (1, 2), (res.returncode, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: "), res.stderr
    for needle in needles:
        assert needle in lines[0], res.stderr
    for bad in ("Traceback", "BufferError", "Exception ignored"):
        assert bad not in res.stderr


def test_full_slot_table_is_refused_on_open_and_lookups_stay_bounded(tmp_path: Path) -> None:
    path = tmp_path / "full.tcpdb"
    path.write_bytes(with_slots(valid_bytes(tmp_path), 1))
    with pytest.raises(RegistryFormatError, match="occupied slots"):
        Registry(path)
    for command in (
        ["registry", "lookup", str(path), "absent-tool"],
        ["registry", "info", str(path)],
    ):
        assert_one_line_error(cli(*command), str(path), "occupied slots")


def test_slot_count_below_twice_the_entries_is_refused(tmp_path: Path) -> None:
    data = valid_bytes(tmp_path, 8)  # 16 slots
    f = fields(data)
    # 8 slots for 8 entries: keep the table size consistent by dropping the second half.
    shrunk = data[: f["slots"] + 4 * 8] + data[f["slots"] + 4 * f["slots_n"] :]
    path = tmp_path / "small.tcpdb"
    path.write_bytes(with_header(shrunk, slots_n=8))
    with pytest.raises(RegistryFormatError, match="inconsistent tables"):
        Registry(path)


@pytest.mark.parametrize("value", [9, 0xFFFFFFFF])
def test_slot_values_beyond_the_entries_are_refused(tmp_path: Path, value: int) -> None:
    data = bytearray(valid_bytes(tmp_path))
    f = fields(bytes(data))
    for h in range(f["slots_n"]):
        at = f["slots"] + 4 * h
        if data[at : at + 4] != bytes(4):
            data[at : at + 4] = value.to_bytes(4, "little")
            break
    path = tmp_path / "v.tcpdb"
    path.write_bytes(reseal(data))
    with pytest.raises(RegistryFormatError, match="beyond the 8 entries"):
        Registry(path)


def test_non_monotonic_name_offsets_are_refused_everywhere(tmp_path: Path) -> None:
    data = valid_bytes(tmp_path)
    offs = name_offsets(data)
    offs[2], offs[3] = offs[3], offs[2]
    path = tmp_path / "garbled.tcpdb"
    path.write_bytes(with_name_offsets(data, offs))
    with pytest.raises(RegistryFormatError, match="not strictly increasing"):
        Registry(path)
    res = cli("registry", "export", str(path))
    assert res.stdout == ""
    assert_one_line_error(res, "not strictly increasing")


@pytest.mark.parametrize(
    "change",
    [
        lambda o: [o[0] + 1, *o[1:]],  # the blob does not start at 0
        lambda o: [*o[:-1], o[-1] + 5],  # the last name runs past the file
        lambda o: [o[0], o[1], o[1], *o[3:]],  # an empty name
    ],
)
def test_name_offsets_out_of_range_or_empty_are_refused(tmp_path: Path, change: object) -> None:
    data = valid_bytes(tmp_path)
    path = tmp_path / "o.tcpdb"
    path.write_bytes(with_name_offsets(data, change(name_offsets(data))))  # type: ignore[operator]
    with pytest.raises(RegistryFormatError):
        Registry(path)


def _corrupt_variants(tmp_path: Path) -> dict[str, bytes]:
    data = valid_bytes(tmp_path)
    f = fields(data)
    return {
        "empty": b"",
        "truncated-header": data[:40],
        "truncated-tables": data[: f["slots"] + 3],
        "truncated-last-byte": data[:-1],
        "bit-flip": data[:100] + bytes([data[100] ^ 0x01]) + data[101:],
        "trailing-bytes": data + b"\x00junk",
        "trailing-bytes-resealed": reseal(data + b"\x00junk"),
        "count-larger": with_header(data, n=9),
        "count-smaller": with_header(data, n=7),
        "giant-count": with_header(data, n=2**62),
        "giant-slots": with_header(data, slots_n=2**62),
        "giant-everything": with_header(data, n=2**63, names=2**63, slots=2**63, slots_n=2**63),
        "bad-magic": b"\x89TCPDX\r\n" + data[8:],
        "text-mode-mangled": data.replace(b"\r\n", b"\n"),
    }


def test_corrupt_files_are_refused_with_a_clear_one_line_error(tmp_path: Path) -> None:
    for label, blob in _corrupt_variants(tmp_path).items():
        path = tmp_path / f"{label}.tcpdb"
        path.write_bytes(blob)
        with pytest.raises(RegistryFormatError, match=str(path)):
            Registry(path)
        for command in ("info", "export"):
            res = cli("registry", command, str(path))
            assert res.stdout == "", label
            assert_one_line_error(res, str(path))
        assert_one_line_error(cli("registry", "lookup", str(path), "cmd1", "--json"), str(path))


def test_paths_that_are_not_registry_files(tmp_path: Path) -> None:
    loop = tmp_path / "loop.tcpdb"
    loop.symlink_to(loop)
    fifo = tmp_path / "fifo.tcpdb"
    os.mkfifo(fifo)
    cases = {
        loop: "symbolic links",
        tmp_path: "is a directory",
        fifo: "not a regular file",
        Path("/dev/zero"): "not a regular file",
        tmp_path / "absent.tcpdb": "no such registry file",
    }
    for path, message in cases.items():
        with pytest.raises(RegistryFormatError, match=message):
            Registry(path)
        assert_one_line_error(cli("registry", "info", str(path)), message)
        assert_one_line_error(cli("registry", "lookup", str(path), "ls", "--json"), message)


def test_build_into_a_directory_or_unwritable_place_is_a_clear_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(f"command,hex\nls,{encode('ls', 'SAFE').hex()}\n")
    res = cli("registry", "build", "--input", str(csv_path), "--out", str(tmp_path))
    assert_one_line_error(res, "is a directory")
    assert res.returncode == 2
    with pytest.raises(UsageError, match="is a directory"):
        write_registry(tmp_path, entries(2))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(RegistryError, match="cannot write"):
        write_registry(blocker / "sub" / "r.tcpdb", entries(2))
    res = cli("registry", "build", "--input", str(tmp_path), "--out", str(tmp_path / "r.tcpdb"))
    assert_one_line_error(res, "is a directory")


def _registry_with_invalid_entries(tmp_path: Path) -> Path:
    good = entries(6)
    bad_crc = bytearray(encode("broken", "SAFE"))
    bad_crc[23] ^= 0xFF
    wrong_name = encode("somebody", "CRITICAL")  # valid descriptor, another command's
    path = tmp_path / "mixed.tcpdb"
    write_registry(path, [*good, ("broken", bytes(bad_crc)), ("[red]ls[/red]", wrong_name)])
    return path


def test_info_counts_invalid_entries_apart(tmp_path: Path) -> None:
    path = _registry_with_invalid_entries(tmp_path)
    with Registry(path) as reg:
        invalid = {name: problems for _i, name, problems in reg.invalid_entries()}
    assert invalid == {
        "broken": ["CHECKSUM"],
        "[red]ls[/red]": ["HASH_MISMATCH", "LENGTH_MISMATCH"],
    }
    res = cli("registry", "info", str(path), "--json")
    assert res.returncode == 1
    info = json.loads(res.stdout)
    assert info["entries"] == 8 and info["valid_entries"] == 6 and info["invalid_entries"] == 2
    assert sum(info["risk_levels"].values()) == 6
    assert info["file_checksum"] == "verified" and "checksum" not in info
    assert {e["command"] for e in info["invalid"]} == {"broken", "[red]ls[/red]"}
    res = cli("registry", "info", str(path))
    assert res.returncode == 1
    assert "invalid: '[red]ls[/red]' [HASH_MISMATCH, LENGTH_MISMATCH]" in res.stdout
    assert "invalid: 'broken' [CHECKSUM]" in res.stdout


def test_export_refuses_invalid_entries_or_flags_them(tmp_path: Path) -> None:
    path = _registry_with_invalid_entries(tmp_path)
    res = cli("registry", "export", str(path))
    assert res.stdout == ""
    assert_one_line_error(res, "2 of 8 entries are invalid", "broken")
    with Registry(path) as reg, pytest.raises(RegistryFormatError, match="--allow-invalid"):
        export_csv(reg)
    res = cli("registry", "export", str(path), "--allow-invalid")
    assert res.returncode == 1
    rows = [line.split(",") for line in res.stdout.splitlines()]
    assert rows[0] == ["command", "hex", "problems"]
    flagged = {r[0]: r[2] for r in rows[1:] if r[2]}
    assert flagged == {"broken": "CHECKSUM", "[red]ls[/red]": "HASH_MISMATCH LENGTH_MISMATCH"}


def test_a_name_that_is_not_utf8_is_an_invalid_entry_not_a_crash(tmp_path: Path) -> None:
    data = bytearray(valid_bytes(tmp_path))
    f = fields(bytes(data))
    blob = f["slots"] + 4 * f["slots_n"]
    data[blob] = 0xFF  # first byte of the first name ("cmd0" -> b"\xffmd0")
    path = tmp_path / "latin.tcpdb"
    path.write_bytes(reseal(data))
    with Registry(path) as reg:
        assert reg.get_bytes("cmd1") is not None
        bad = reg.invalid_entries()
        assert bad and "NAME_NOT_UTF8" in bad[0][2]
        with pytest.raises(RegistryFormatError, match="not UTF-8"):
            list(reg.items())
    assert_one_line_error(cli("registry", "export", str(path)), "NAME_NOT_UTF8")


def test_trailing_bytes_error_has_no_buffer_error_and_the_file_is_released(tmp_path: Path) -> None:
    data = valid_bytes(tmp_path)
    path = tmp_path / "t.tcpdb"
    path.write_bytes(reseal(data + b"trailing"))
    for _ in range(3):
        with pytest.raises(RegistryFormatError, match="name table does not match"):
            Registry(path)


def test_close_is_idempotent_and_closed_registries_refuse_lookups(tmp_path: Path) -> None:
    path = tmp_path / "r.tcpdb"
    write_registry(path, entries(4))
    reg = Registry(path)
    python_path = reg.cold_decider(native=False)
    decide = reg.decide_cold
    assert decide("cmd1")[0].name == "LOW_RISK"
    reg.close()
    reg.close()
    assert reg.closed
    for fn in (python_path, reg.decide_cold, reg.get_bytes):
        with pytest.raises(ValueError):
            fn("cmd1")


def test_table_checks_agree_with_and_without_numpy(tmp_path: Path) -> None:
    import random

    rng = random.Random(7)
    data = valid_bytes(tmp_path, 20)
    f = fields(data)
    blob_len = len(data) - (f["slots"] + 4 * f["slots_n"])
    verdicts = set()
    for _ in range(400):
        offs = bytearray(data[f["names"] : f["slots"]])
        slots = bytearray(data[f["slots"] : f["slots"] + 4 * f["slots_n"]])
        target = offs if rng.random() < 0.5 else slots
        for _k in range(rng.randint(1, 3)):
            target[rng.randrange(len(target))] = rng.choice([0, 1, 2, 0xFF, rng.randrange(256)])
        a = check_tables(bytes(offs), bytes(slots), f["n"], blob_len, use_numpy=True)
        b = check_tables(bytes(offs), bytes(slots), f["n"], blob_len, use_numpy=False)
        assert a == b
        verdicts.add(a.split(" ")[0] if a else "")
    assert "" in verdicts and len(verdicts) >= 3  # both accepted and refused tables were seen


def test_import_of_the_registry_and_decode_paths_loads_no_numpy() -> None:
    code = (
        "import sys, tcplab, tcplab.registry, tcplab.descriptor\n"
        "from tcplab.registry.reports import lookup_report\n"
        "print(sorted({'numpy', 'numba', 'pyarrow'} & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
