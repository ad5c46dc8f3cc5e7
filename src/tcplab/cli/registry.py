"""``tcplab registry``: build, inspect, query and export ``.tcpdb`` registries."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from tcplab.cli._console import console, emit_json
from tcplab.cli.descriptor import decode_report
from tcplab.errors import CommandNotFoundError
from tcplab.registry import Registry, build_from_csv, export_csv

__all__ = ["app"]

app = typer.Typer(help="Build and query descriptor registries (.tcpdb).", no_args_is_help=True)


@app.command("build")
def build_cmd(
    input_csv: Annotated[Path, typer.Option("--input", help="CSV with columns command,hex.")],
    out: Annotated[Path, typer.Option("--out", help="Registry file to write (.tcpdb).")],
) -> None:
    """Build a registry; invalid rows are refused with line numbers and nothing is written."""
    n = build_from_csv(input_csv, out)
    console.print(f"wrote {n} descriptors to {out}", highlight=False)


@app.command("lookup")
def lookup_cmd(
    registry: Annotated[Path, typer.Argument(help="Registry file.")],
    name: Annotated[str, typer.Argument(help="Command name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Look up one command: the decode report plus the command. Exit 1 when absent."""
    with Registry(registry) as reg:
        raw = reg.get_bytes(name)
        if raw is None:
            raise CommandNotFoundError(
                f"{name!r} is not in registry {registry} ({len(reg)} entries); "
                f"`tcplab registry export {registry}` lists them"
            )
    report = {"command": name, **decode_report(raw.hex())}
    if as_json:
        emit_json(report)
    else:
        for key, value in report.items():
            console.print(f"[bold]{key:>15}[/]: {value}", highlight=False)
    raise typer.Exit(0 if report["valid"] else 1)


@app.command("info")
def info_cmd(
    registry: Annotated[Path, typer.Argument(help="Registry file.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a registry's header facts (the whole-file checksum is verified on open)."""
    with Registry(registry) as reg:
        info = reg.info()
        levels: dict[str, int] = {}
        from tcplab.descriptor import unpack

        for _name, raw in reg.items():
            lvl = unpack(raw).risk_level.name
            levels[lvl] = levels.get(lvl, 0) + 1
    info["risk_levels"] = levels
    info["checksum"] = "verified"
    if as_json:
        emit_json(info)
        return
    for key, value in info.items():
        console.print(f"[bold]{key:>26}[/]: {value}", highlight=False)


@app.command("export")
def export_cmd(registry: Annotated[Path, typer.Argument(help="Registry file.")]) -> None:
    """Write the registry as command,hex CSV to stdout."""
    with Registry(registry) as reg:
        export_csv(reg, sys.stdout)  # type: ignore[arg-type]
