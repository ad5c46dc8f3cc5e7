"""``tcplab descriptor``: encode, decode and validate TCP v2 descriptors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer

from tcplab.cli._console import print_record
from tcplab.descriptor import Reason, encode
from tcplab.descriptor.reports import decode_report
from tcplab.errors import UsageError

__all__ = ["app", "decode_main", "decode_report"]

app = typer.Typer(
    help="Encode, decode and validate 24-byte TCP v2 descriptors.", no_args_is_help=True
)


@app.command("encode")
def encode_cmd(
    command: Annotated[str, typer.Option("--command", help="Command string, e.g. 'git'.")],
    risk: Annotated[
        str, typer.Option("--risk", help="SAFE|LOW_RISK|MEDIUM_RISK|HIGH_RISK|CRITICAL")
    ],
    capability: Annotated[
        list[str] | None, typer.Option("--capability", help="Capability flag (repeatable).")
    ] = None,
    exec_ms: Annotated[
        int, typer.Option("--exec-ms", help="Execution-time estimate, ms (0 = unknown).")
    ] = 0,
    memory_mb: Annotated[
        int, typer.Option("--memory-mb", help="Memory estimate, MB (0 = unknown).")
    ] = 0,
    output_kb: Annotated[
        int, typer.Option("--output-kb", help="Output-size estimate, KB (0 = unknown).")
    ] = 0,
) -> None:
    """Print the 48-character lowercase hex of a new descriptor."""
    raw = encode(
        command,
        risk,
        capability or [],
        exec_time_ms=exec_ms,
        memory_mb=memory_mb,
        output_kb=output_kb,
    )
    sys.stdout.write(raw.hex() + "\n")


@app.command("decode")
def decode_cmd(
    hex_text: Annotated[str, typer.Argument(metavar="HEX", help="48 hex characters.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Decode a descriptor; exit 0 if valid, 1 if not."""
    raise typer.Exit(decode_main(hex_text, as_json))


def decode_main(hex_text: str, as_json: bool) -> int:
    """Print the decode report; the exit status (0 valid, 1 not). No typer needed."""
    report = decode_report(hex_text)
    print_record(report, as_json)
    return 0 if report["valid"] else 1


def _line_suffix(reason: Reason) -> str:
    valid, name = ("false", f'"{reason.name}"') if reason else ("true", "null")
    return f'"valid": {valid}, "reason": {name}}}\n'


_LINE_SUFFIX = {int(r): _line_suffix(r) for r in Reason}


def _open_input(input_file: str) -> BinaryIO:
    if input_file == "-":
        if sys.stdin is None:
            raise UsageError("--input -: standard input is closed")
        return sys.stdin.buffer
    path = Path(input_file)
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "no such file"
        raise UsageError(f"--input {input_file}: {what}")
    try:
        return path.open("rb")
    except OSError as exc:
        raise UsageError(f"--input {input_file}: cannot read: {exc.strerror or exc}") from exc


@app.command("validate")
def validate_cmd(
    input_file: Annotated[str, typer.Option("--input", help="File of hex lines, or - for stdin.")],
) -> None:
    """Validate one hex descriptor per line; one JSON line each. Exit 0 all valid, 1 otherwise.

    Streams the input in bounded chunks (constant memory whatever its size); lines end with
    LF, CRLF or CR, and surrounding ASCII whitespace is ignored.
    """
    from tcplab.descriptor.lines import iter_line_reasons

    fh = _open_input(input_file)
    out, suffix = sys.stdout, _LINE_SUFFIX
    line, all_valid = 0, True
    try:
        for reasons in iter_line_reasons(fh.read):
            first = line + 1
            line += len(reasons)
            out.write(
                "".join(
                    [
                        f'{{"line": {n}, {suffix[r]}'
                        for n, r in zip(range(first, line + 1), reasons, strict=True)
                    ]
                )
            )
            all_valid = all_valid and not any(reasons)
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()
    out.flush()
    raise typer.Exit(0 if all_valid else 1)
