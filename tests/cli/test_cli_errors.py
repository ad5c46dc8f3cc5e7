"""Errors and output through the real console script: data is never markup, expected errors are
one line (tracebacks only with --debug), bugs keep their traceback, and broken outputs (closed,
full, non-UTF-8 arguments) are one-line errors too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tcplab.descriptor import encode
from tcplab.registry import write_registry

from ..conftest import TCPLAB

HEX = encode("ls", "SAFE").hex()
MARKUP_NAMES = ["[red]ls[/red]", "x[/x]", "[/]", ":smile:", "[bold]", "back\\[slash"]


def run(
    *args: str, env: dict[str, str] | None = None, stdout: object = subprocess.PIPE
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # type: ignore[call-overload, no-any-return]
        [str(TCPLAB), *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def one_line_error(res: subprocess.CompletedProcess[str], *needles: str) -> str:
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr
    for needle in needles:
        assert needle in lines[0], (needle, res.stderr)
    return lines[0]


@pytest.fixture
def markup_registry(tmp_path: Path) -> Path:
    path = tmp_path / "[bold]reg[/bold].tcpdb"
    write_registry(path, [(name, encode(name, "CRITICAL")) for name in MARKUP_NAMES])
    return path


def test_tool_names_are_shown_verbatim_not_as_markup(markup_registry: Path) -> None:
    for name in MARKUP_NAMES:
        for fast in ("1", "0"):
            res = run(
                "registry", "lookup", str(markup_registry), name, env={"TCPLAB_CLI_FAST": fast}
            )
            assert res.returncode == 0, res.stderr
            assert f"command: {name}\n" in res.stdout  # `[red]ls[/red]` is not shown as `ls`
            res = run("registry", "lookup", str(markup_registry), name, "--json")
            assert json.loads(res.stdout)["command"] == name
    res = run("registry", "export", str(markup_registry))
    assert res.returncode == 0
    assert sorted(line.split(",")[0] for line in res.stdout.splitlines()[1:]) == sorted(
        MARKUP_NAMES
    )


def test_error_text_with_markup_is_printed_verbatim(markup_registry: Path, tmp_path: Path) -> None:
    res = run("registry", "lookup", str(markup_registry), "[/absent]")
    assert res.returncode == 1
    one_line_error(res, "'[/absent]' is not in registry", str(markup_registry))
    missing = tmp_path / "no[/x]such.tcpdb"
    for command in (["registry", "info", str(missing)], ["registry", "export", str(missing)]):
        one_line_error(run(*command), f"{missing}: no such registry file")
    res = run("descriptor", "validate", "--input", str(tmp_path / "[red]in[/red].txt"))
    assert res.returncode == 2
    one_line_error(res, "[red]in[/red].txt")


def test_expected_errors_show_a_traceback_only_when_debugging(tmp_path: Path) -> None:
    missing = str(tmp_path / "absent.tcpdb")
    plain = run("registry", "info", missing)
    one_line_error(plain, "no such registry file")
    for res in (
        run("--debug", "registry", "info", missing),
        run("registry", "info", missing, env={"TCPLAB_DEBUG": "1"}),
        run("registry", "lookup", missing, "ls", "--json", env={"TCPLAB_DEBUG": "1"}),
    ):
        assert res.returncode == 1
        assert "Traceback" in res.stderr and "RegistryFormatError" in res.stderr
        assert res.stderr.strip().splitlines()[-1].startswith("error: ")


_BUGGY = (
    "import sys\n"
    "from tcplab.cli import main as m\n"
    "@m.app.command('boom')\n"
    "def boom() -> None:\n"
    "    raise RuntimeError('a real bug [/x]')\n"
    "sys.argv[0] = 'tcplab'\n"
    "m.main()\n"
)


def test_unexpected_bugs_keep_their_traceback() -> None:
    res = subprocess.run(
        [sys.executable, "-c", _BUGGY, "boom"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 1
    assert "Traceback" in res.stderr and "RuntimeError: a real bug [/x]" in res.stderr


def test_non_utf8_arguments_are_a_one_line_usage_error(tmp_path: Path) -> None:
    for args in (
        [b"descriptor", b"decode", b"\xff\xfe", b"--json"],
        [b"registry", b"lookup", str(tmp_path).encode() + b"/\xe9.tcpdb", b"ls"],
        [b"registry", b"info", b"\xc3("],
    ):
        res = subprocess.run([bytes(TCPLAB), *args], capture_output=True, text=True, timeout=300)
        assert res.returncode == 2
        one_line_error(res, "is not valid UTF-8")
        assert res.stdout == ""


def test_writing_to_a_full_device_is_a_one_line_error(tmp_path: Path) -> None:
    if not Path("/dev/full").exists():
        pytest.skip("/dev/full is not available")
    db = tmp_path / "r.tcpdb"
    write_registry(db, [(f"t{i}", encode(f"t{i}", "SAFE")) for i in range(3000)])
    lines = tmp_path / "in.txt"
    lines.write_text((HEX + "\n") * 50_000)
    cases = [
        ["descriptor", "decode", HEX, "--json"],
        ["descriptor", "decode", HEX],
        ["registry", "lookup", str(db), "t1", "--json"],
        ["registry", "export", str(db)],
        ["registry", "info", str(db), "--json"],
        ["descriptor", "encode", "--command", "ls", "--risk", "SAFE"],
        ["descriptor", "validate", "--input", str(lines)],
        ["--help"],
    ]
    for args in cases:
        with open("/dev/full", "w") as full:
            res = run(*args, stdout=full)
        assert res.returncode == 1, (args, res.stderr)
        one_line_error(res, "cannot write output", "No space left on device")


def test_closed_stdout_is_a_one_line_error() -> None:
    res = subprocess.run(
        ["sh", "-c", 'exec "$0" "$@" >&-', str(TCPLAB), "descriptor", "decode", HEX, "--json"],
        capture_output=False,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
    )
    assert res.returncode == 1
    one_line_error(res, "cannot write output", "stdout is closed")


def test_a_reader_that_goes_away_is_not_a_traceback(tmp_path: Path) -> None:
    db = tmp_path / "r.tcpdb"
    write_registry(db, [(f"tool-{i}", encode(f"tool-{i}", "SAFE")) for i in range(20_000)])
    for args in (["registry", "export", str(db)], ["descriptor", "decode", HEX, "--json"]):
        proc = subprocess.Popen(
            [str(TCPLAB), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before the command writes
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode in (0, 1), err  # 0 only if the tiny output fit before the close
        assert "Traceback" not in err and "Exception ignored" not in err, err
        assert len(err.strip().splitlines()) <= 1, err
