"""``tcplab registry``: build, inspect, query and export ``.tcpdb`` registries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from tcplab.cli._console import emit_json, print_data, print_kv, print_record
from tcplab.registry import Registry
from tcplab.registry.reports import lookup_report

__all__ = ["app", "lookup_main"]

app = typer.Typer(help="Build and query descriptor registries (.tcpdb).", no_args_is_help=True)


@app.command("build")
def build_cmd(
    input_csv: Annotated[Path, typer.Option("--input", help="CSV with columns command,hex.")],
    out: Annotated[Path, typer.Option("--out", help="Registry file to write (.tcpdb).")],
) -> None:
    """Build a registry; invalid rows are refused with line numbers and nothing is written."""
    from tcplab.registry import build_from_csv

    n = build_from_csv(input_csv, out)
    print_data(f"wrote {n} descriptors to {out}")


@app.command("lookup")
def lookup_cmd(
    registry: Annotated[Path, typer.Argument(help="Registry file.")],
    name: Annotated[str, typer.Argument(help="Command name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Look up one command: the decode report plus the command. Exit 1 when absent or invalid."""
    raise typer.Exit(lookup_main(str(registry), name, as_json))


def lookup_main(registry: str, name: str, as_json: bool) -> int:
    """Print the lookup report; the exit status (0 valid, 1 invalid). No typer needed.

    Raises:
        RegistryFormatError, CommandNotFoundError: see :func:`lookup_report`.
    """
    report = lookup_report(registry, name)
    print_record(report, as_json)
    return 0 if report["valid"] else 1


def _info(reg: Registry) -> dict[str, Any]:
    from tcplab.descriptor import unpack

    info: dict[str, Any] = reg.info()
    invalid = reg.invalid_entries()
    bad = {i for i, _name, _problems in invalid}
    levels: dict[str, int] = {}
    for i in range(len(reg)):
        if i not in bad:
            lvl = unpack(reg.bytes_at(i)).risk_level.name
            levels[lvl] = levels.get(lvl, 0) + 1
    info["valid_entries"] = len(reg) - len(bad)
    info["invalid_entries"] = len(bad)
    info["risk_levels"] = levels
    info["file_checksum"] = "verified"
    info["invalid"] = [
        {"index": i, "command": name, "problems": problems} for i, name, problems in invalid
    ]
    return info


@app.command("info")
def info_cmd(
    registry: Annotated[Path, typer.Argument(help="Registry file.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a registry's header facts and count its entries by risk level.

    The whole-file checksum is verified on open; every entry is checked as well (descriptor
    structure, name, hash) and invalid entries are counted and listed apart. Exit 1 if any.
    """
    with Registry(registry) as reg:
        info = _info(reg)
    if as_json:
        emit_json(info)
    else:
        invalid = info.pop("invalid")
        for key, value in info.items():
            print_kv(key, value, width=26)
        for entry in invalid[:20]:
            print_data(f"  invalid: {entry['command']!r} [{', '.join(entry['problems'])}]")
        if len(invalid) > 20:
            print_data(f"  ... and {len(invalid) - 20} more (--json lists them all)")
    raise typer.Exit(1 if info["invalid_entries"] else 0)


@app.command("export")
def export_cmd(
    registry: Annotated[Path, typer.Argument(help="Registry file.")],
    allow_invalid: Annotated[
        bool,
        typer.Option(
            "--allow-invalid",
            help="Export invalid entries too, flagged in a third column `problems` (exit 1).",
        ),
    ] = False,
) -> None:
    """Write the registry as command,hex CSV to stdout.

    Refuses (exit 1, nothing written) when an entry is invalid, unless --allow-invalid.
    """
    from tcplab.registry import export_csv

    with Registry(registry) as reg:
        text = export_csv(reg, allow_invalid=allow_invalid)
        flagged = allow_invalid and bool(reg.invalid_entries())
    sys.stdout.write(text)
    raise typer.Exit(1 if flagged else 0)
