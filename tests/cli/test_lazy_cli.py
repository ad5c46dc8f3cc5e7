"""The lazy CLI: the command table matches the real commands, light commands import little,
and the typer-free fast path answers exactly like the typer path."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tcplab.cli.main import COMMANDS, _register, load_command
from tcplab.descriptor import encode
from tcplab.registry import write_registry

from ..conftest import TCPLAB

HEX = encode("git", "MEDIUM_RISK", ["NETWORK_ACCESS"]).hex()
# Never imported by the per-decision commands, nor by --help.
HEAVY = {"numpy", "numba", "pyarrow", "torch", "sqlalchemy", "ray", "scipy", "pandas", "duckdb"}


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").split("\n\n")[0].split())


def test_command_table_matches_the_real_commands() -> None:
    registered: set[str] = set()
    for name, entry in COMMANDS.items():
        cmd = load_command(name)
        assert cmd is not None, name
        assert _first_paragraph(cmd.help) == entry.help, (
            f"update the help line of {name!r} in tcplab.cli.main.COMMANDS to the command's own"
        )
        holder = typer.Typer()
        _register(name, entry, holder)
        registered |= set(typer.main.get_group(holder).commands)
    assert registered == set(COMMANDS), "a module registers a command the table lacks"
    assert load_command("no-such-command") is None


@pytest.fixture(scope="module")
def registry_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("reg") / "r.tcpdb"
    bad = bytearray(encode("broken", "SAFE"))
    bad[23] ^= 1
    write_registry(path, [("ls", encode("ls", "SAFE")), ("broken", bytes(bad))])
    return path


def _imported(*args: str) -> set[str]:
    """Top-level packages a real `tcplab ARGS` process imports (from -X importtime)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", str(TCPLAB), *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def _baseline() -> set[str]:
    return _imported_code("pass")


def _imported_code(code: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }


def _third_party(names: set[str], baseline: set[str]) -> set[str]:
    """Non-stdlib packages beyond the bare interpreter's (failed probes such as copy's `org`
    are listed by -X importtime too; they are not installed, so they are dropped)."""
    return {
        n
        for n in names - baseline
        if n not in sys.stdlib_module_names and importlib.util.find_spec(n) is not None
    }


def test_per_decision_commands_import_nothing_but_tcplab(registry_file: Path) -> None:
    baseline = _baseline()
    for args in (
        ["descriptor", "decode", HEX, "--json"],
        ["registry", "lookup", str(registry_file), "ls", "--json"],
        ["registry", "lookup", str(registry_file), "absent", "--json"],
    ):
        assert _third_party(_imported(*args), baseline) == {"tcplab"}, args


def test_light_commands_import_no_heavy_module(registry_file: Path) -> None:
    baseline = _baseline()
    cases = {
        ("descriptor", "decode", HEX): {"tcplab", "rich"},  # text output: rich, no typer
        ("--help",): {"tcplab", "rich"},
    }
    for args, allowed in cases.items():
        extra = _third_party(_imported(*args), baseline)
        assert extra <= allowed | {"pygments", "markdown_it", "mdurl"}, (args, extra)
    # Through typer (it builds pydantic adapters for parameters): still nothing heavy.
    for args in (
        ("descriptor", "encode", "--command", "x", "--risk", "SAFE"),
        ("descriptor", "--help"),
        ("registry", "info", str(registry_file)),
        ("registry", "export", str(registry_file), "--allow-invalid"),
    ):
        assert not _imported(*args) & HEAVY, args


def test_descriptor_validate_uses_numpy_but_not_numba(tmp_path: Path) -> None:
    path = tmp_path / "in.txt"
    path.write_text(HEX + "\n")
    names = _imported("descriptor", "validate", "--input", str(path))
    assert "numpy" in names
    assert not names & (HEAVY - {"numpy"}), names & HEAVY


def _run(*args: str, fast: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "300"}
    if not fast:
        env["TCPLAB_CLI_FAST"] = "0"
    return subprocess.run(
        [str(TCPLAB), *args], capture_output=True, text=True, timeout=300, env=env
    )


def test_fast_path_and_typer_path_answer_identically(registry_file: Path, tmp_path: Path) -> None:
    bad = HEX[:-1] + ("1" if HEX[-1] == "0" else "0")
    cases = [
        ["descriptor", "decode", HEX, "--json"],
        ["descriptor", "decode", HEX],
        ["descriptor", "decode", bad, "--json"],
        ["descriptor", "decode", "zz"],
        ["descriptor", "decode", "[red]x[/red]", "--json"],
        ["registry", "lookup", str(registry_file), "ls", "--json"],
        ["registry", "lookup", str(registry_file), "ls"],
        ["registry", "lookup", str(registry_file), "broken", "--json"],
        ["registry", "lookup", str(registry_file), "[/x]", "--json"],
        ["registry", "lookup", str(tmp_path / "absent.tcpdb"), "ls"],
        ["registry", "lookup", str(tmp_path), "ls", "--json"],
    ]
    for args in cases:
        fast, slow = _run(*args, fast=True), _run(*args, fast=False)
        assert (fast.returncode, fast.stdout, fast.stderr) == (
            slow.returncode,
            slow.stdout,
            slow.stderr,
        ), args
        assert "Traceback" not in fast.stderr


def test_fast_root_help_lists_what_typer_lists() -> None:
    fast, slow = _run("--help", fast=True), _run("--help", fast=False)
    assert fast.returncode == slow.returncode == 0
    for name, entry in COMMANDS.items():
        for out in (fast.stdout, slow.stdout):
            assert f" {name} " in out and entry.help in out, name
    for option in ("--debug", "--help", "--version"):
        assert option in fast.stdout and option in slow.stdout
    fast, slow = _run("--version", fast=True), _run("--version", fast=False)
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout) == (0, fast.stdout)
    assert fast.stdout.startswith("tcplab ")


def test_other_forms_fall_back_to_typer() -> None:
    res = _run("descriptor", "decode", "--help", fast=True)
    assert res.returncode == 0 and "HEX" in res.stdout
    res = _run("descriptor", "decode", HEX, "--jsn", fast=True)
    assert res.returncode == 2 and "--jsn" in res.stderr
    res = _run("descriptor", "decode", fast=True)
    assert res.returncode == 2 and "Missing argument" in res.stderr
    res = _run("--debug", "descriptor", "decode", HEX, "--json", fast=True)
    assert res.returncode == 0 and '"valid": true' in res.stdout
