"""``tcplab descriptor``: encode, decode and validate TCP v2 descriptors."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from tcplab.cli._console import console, emit_json
from tcplab.descriptor import (
    DESCRIPTOR_SIZE,
    Decision,
    Reason,
    RiskLevel,
    encode,
    lint,
    parse_hex,
    unpack,
    validate,
    validate_batch,
)
from tcplab.errors import DecodeError, UsageError

__all__ = ["app", "decode_report"]

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


def decode_report(text: str) -> dict[str, Any]:
    """The ``decode --json`` object for a hex string (valid or not; never raises).

    Invalid descriptors report ``risk_level`` UNKNOWN and decision REQUIRE_APPROVAL (an agent
    must not trust their bits); ``raw_risk_level`` shows what the bits would have said.
    """
    nulls: dict[str, Any] = dict.fromkeys(
        (
            "version",
            "command_hash",
            "exec_time_ms",
            "memory_mb",
            "output_kb",
            "command_length",
            "checksum",
            "flags",
            "vendor_bits",
            "raw_risk_level",
        )
    )
    try:
        raw = parse_hex(text)
    except DecodeError as exc:
        return {
            "valid": False,
            "errors": list(exc.reasons),
            **nulls,
            "risk_level": RiskLevel.UNKNOWN.name,
            "capabilities": [],
            "decision": Decision.REQUIRE_APPROVAL.value,
            "warnings": [],
        }
    desc = unpack(raw)
    report = desc.to_json_dict()
    reasons = [r.name for r in validate(raw)]
    report["warnings"] = lint(desc)
    report["raw_risk_level"] = desc.risk_level.name
    if reasons:
        report.update(
            valid=False,
            errors=reasons,
            risk_level=RiskLevel.UNKNOWN.name,
            decision=Decision.REQUIRE_APPROVAL.value,
            warnings=[],
        )
    return report


@app.command("decode")
def decode_cmd(
    hex_text: Annotated[str, typer.Argument(metavar="HEX", help="48 hex characters.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Decode a descriptor; exit 0 if valid, 1 if not."""
    report = decode_report(hex_text)
    if as_json:
        emit_json(report)
    else:
        for key, value in report.items():
            console.print(f"[bold]{key:>15}[/]: {value}", highlight=False)
    raise typer.Exit(0 if report["valid"] else 1)


_HEX_CHARS = frozenset("0123456789abcdefABCDEF")


def _classify(line: str) -> tuple[bytes | None, int]:
    s = line.strip()
    if len(s) == 2 * DESCRIPTOR_SIZE:
        try:
            raw = bytes.fromhex(s)
        except ValueError:
            return None, Reason.HEX
        if len(raw) == DESCRIPTOR_SIZE:
            return raw, Reason.OK
        return None, Reason.HEX
    if s and not _HEX_CHARS.issuperset(s):
        return None, Reason.HEX
    return None, Reason.LENGTH


_REASON_JSON = {int(r): (f'"{r.name}"' if r else "null") for r in Reason}


@app.command("validate")
def validate_cmd(
    input_file: Annotated[str, typer.Option("--input", help="File of hex lines, or - for stdin.")],
) -> None:
    """Validate one hex descriptor per line; one JSON line each. Exit 0 all valid, 1 otherwise."""
    if input_file == "-":
        lines = sys.stdin.read().splitlines()
    else:
        path = Path(input_file)
        if not path.is_file():
            raise UsageError(f"--input {input_file}: no such file")
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    n = len(lines)
    reasons = np.zeros(n, dtype=np.uint8)
    good_idx: list[int] = []
    buf = bytearray()
    for i, line in enumerate(lines):
        raw, reason = _classify(line)
        if raw is None:
            reasons[i] = reason
        else:
            good_idx.append(i)
            buf += raw
    if good_idx:
        arr = np.frombuffer(bytes(buf), dtype=np.uint8).reshape(len(good_idx), DESCRIPTOR_SIZE)
        reasons[np.asarray(good_idx)] = validate_batch(arr).reasons
    out = sys.stdout
    chunk: list[str] = []
    for i, r in enumerate(reasons.tolist()):
        chunk.append(
            f'{{"line": {i + 1}, "valid": {"true" if r == 0 else "false"}, '
            f'"reason": {_REASON_JSON[r]}}}\n'
        )
        if len(chunk) >= 65536:
            out.write("".join(chunk))
            chunk.clear()
    out.write("".join(chunk))
    out.flush()
    raise typer.Exit(0 if not reasons.any() else 1)
