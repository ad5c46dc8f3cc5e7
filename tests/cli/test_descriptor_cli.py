"""The descriptor and registry CLI contract, run through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

from tcplab.descriptor import encode

from ..conftest import Runner


def test_encode_prints_48_lowercase_hex(tcplab: Runner) -> None:
    res = tcplab(
        "descriptor",
        "encode",
        "--command",
        "git",
        "--risk",
        "MEDIUM_RISK",
        "--capability",
        "NETWORK_ACCESS",
        "--capability",
        "FILE_MODIFICATION",
        "--exec-ms",
        "120",
        "--memory-mb",
        "35",
        "--output-kb",
        "2",
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout.strip()
    assert len(out) == 48 and out == out.lower()
    assert (
        out
        == encode(
            "git",
            "MEDIUM_RISK",
            ["NETWORK_ACCESS", "FILE_MODIFICATION"],
            exec_time_ms=120,
            memory_mb=35,
            output_kb=2,
        ).hex()
    )


def test_encode_bad_input_is_one_line_without_traceback(tcplab: Runner) -> None:
    res = tcplab(
        "descriptor", "encode", "--command", "git", "--risk", "SAFE", "--capability", "TELEPORT"
    )
    assert res.returncode != 0
    assert "unknown capability 'TELEPORT'" in res.stderr
    assert "Traceback" not in res.stderr
    res = tcplab("descriptor", "encode", "--command", "x", "--risk", "SAFE", "--exec-ms", "70000")
    assert res.returncode != 0 and "out of range" in res.stderr


def test_decode_json_has_the_contract_fields(tcplab: Runner) -> None:
    hex_ = encode("rm", "CRITICAL", ["DESTRUCTIVE"]).hex()
    res = tcplab("descriptor", "decode", hex_, "--json")
    assert res.returncode == 0
    obj = json.loads(res.stdout)
    assert obj["valid"] is True and obj["errors"] == []
    assert obj["risk_level"] == "CRITICAL" and obj["decision"] == "REJECT"
    assert obj["capabilities"] == ["DESTRUCTIVE"]
    assert obj["command_hash"] == hex_[12:20]
    for key in ("version", "exec_time_ms", "memory_mb", "output_kb", "command_length", "checksum"):
        assert key in obj


def test_decode_invalid_exits_1_and_fails_closed(tcplab: Runner) -> None:
    hex_ = encode("rm", "SAFE").hex()
    bad = hex_[:-1] + ("1" if hex_[-1] == "0" else "0")
    res = tcplab("descriptor", "decode", bad, "--json")
    assert res.returncode == 1
    obj = json.loads(res.stdout)
    assert obj["valid"] is False and obj["errors"] == ["CHECKSUM"]
    assert obj["decision"] == "REQUIRE_APPROVAL"
    res = tcplab("descriptor", "decode", "xyz", "--json")
    assert res.returncode == 1 and json.loads(res.stdout)["errors"] == ["HEX"]


def test_validate_reports_each_line_and_exit_status(tcplab: Runner, tmp_path: Path) -> None:
    good = encode("ls", "SAFE").hex()
    lines = [good, "zz" * 24, good[:40], "5843" + good[4:], good[:-2] + "00", "", good.upper()]
    path = tmp_path / "in.txt"
    path.write_text("\n".join(lines) + "\n")
    res = tcplab("descriptor", "validate", "--input", str(path))
    assert res.returncode == 1
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [g["line"] for g in got] == list(range(1, 8))
    assert [g["reason"] for g in got] == [
        None,
        "HEX",
        "LENGTH",
        "MAGIC",
        "CHECKSUM",
        "LENGTH",
        None,
    ]
    assert [g["valid"] for g in got] == [True, False, False, False, False, False, True]
    res = tcplab("descriptor", "validate", "--input", "-", input=good + "\n" + good + "\n")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 2


def test_validate_usage_errors_exit_2(tcplab: Runner, tmp_path: Path) -> None:
    assert tcplab("descriptor", "validate", "--input", str(tmp_path / "nope")).returncode == 2
    assert tcplab("descriptor", "validate").returncode == 2


def test_registry_build_lookup_info_export(tcplab: Runner, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    rows = [("ls", "SAFE"), ("rm", "CRITICAL"), ("git add", "MEDIUM_RISK")]
    csv_path.write_text("command,hex\n" + "".join(f"{c},{encode(c, r).hex()}\n" for c, r in rows))
    db = tmp_path / "r.tcpdb"
    res = tcplab("registry", "build", "--input", str(csv_path), "--out", str(db))
    assert res.returncode == 0, res.stderr
    res = tcplab("registry", "lookup", str(db), "git add", "--json")
    obj = json.loads(res.stdout)
    assert res.returncode == 0 and obj["command"] == "git add" and obj["decision"] == "CAUTION"
    res = tcplab("registry", "lookup", str(db), "absent", "--json")
    assert res.returncode == 1 and "'absent' is not in registry" in res.stderr
    assert "Traceback" not in res.stderr
    res = tcplab("registry", "info", str(db), "--json")
    assert json.loads(res.stdout)["entries"] == 3
    res = tcplab("registry", "export", str(db))
    assert res.stdout.splitlines()[0] == "command,hex" and len(res.stdout.splitlines()) == 4


def test_registry_build_refuses_bad_rows_with_line_numbers(tcplab: Runner, tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text(f"command,hex\nls,{encode('ls', 'SAFE').hex()}\ncat,beef\n")
    db = tmp_path / "r.tcpdb"
    res = tcplab("registry", "build", "--input", str(csv_path), "--out", str(db))
    assert res.returncode == 1
    assert "line 3" in res.stderr and not db.exists()


def test_corrupted_registry_is_a_one_line_error(tcplab: Runner, tmp_path: Path) -> None:
    db = tmp_path / "r.tcpdb"
    db.write_bytes(b"\x89TCPDB\r\n" + bytes(10))
    res = tcplab("registry", "info", str(db))
    assert res.returncode == 1 and str(db) in res.stderr and "Traceback" not in res.stderr


def test_quickstart_runs_an_experiment_and_prints_a_summary(
    tcplab: Runner, isolated_home: Path, tmp_path: Path
) -> None:
    import shutil

    from tcplab.corpus import scan_tools, write_corpus

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for t in ("ls", "rm", "cp", "chmod", "cat"):
        found = shutil.which(t, path="/usr/bin:/bin")
        assert found
        (bin_dir / t).symlink_to(found)
    write_corpus(scan_tools([bin_dir]).rows, isolated_home / "corpus" / "corpus.parquet")
    labels = Path(__file__).parents[2] / "data" / "labels" / "tcplab-v1.csv"
    spec = tmp_path / "qs.yaml"
    spec.write_text(
        "spec_version: 1\nname: qs\n"
        f"labels: {labels}\n"
        "tools: {kind: list, names: [ls, rm, cp, chmod, cat]}\n"
        "arms:\n  - {name: tcp, analyzer: tcp}\n  - {name: rules, analyzer: rules}\n"
        "iterations: 2\nexecutor: {kind: inline}\nmicro_min_batch_ns: 100000\n"
    )
    res = tcplab("quickstart", "--spec", str(spec))
    assert res.returncode == 0, res.stderr
    assert (isolated_home / "registry" / "tools.tcpdb").is_file()
    assert "Same tools, same documentation" in res.stdout
    assert "completed" in res.stdout and "rules" in res.stdout
