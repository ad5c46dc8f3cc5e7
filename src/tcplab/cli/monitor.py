"""``tcplab monitor``: a live terminal view of the host's resources and the running runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tcplab.cli._console import console, emit_json
from tcplab.errors import UsageError

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    """Add ``monitor`` to ``app``."""
    app.command("monitor")(monitor_cmd)


def monitor_cmd(
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between refreshes (0.1 to 3600).")
    ] = 1.0,
    once: Annotated[bool, typer.Option("--once", help="Print one view and exit.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the view as JSON (one document per refresh).")
    ] = False,
    count: Annotated[
        int, typer.Option("--count", help="Stop after this many refreshes (0: until Ctrl-C).")
    ] = 0,
    runs: Annotated[
        Path | None, typer.Option("--runs", help="Runs directory (default TCPLAB_HOME/runs).")
    ] = None,
) -> None:
    """Show the host's resources and the running runs, refreshed live (Ctrl-C to stop)."""
    from tcplab.experiment import runs_dir
    from tcplab.monitor import HostView, check_interval, view_document

    check_interval(interval)
    if count < 0:
        raise UsageError("--count must be 0 (no limit) or more")
    base = runs or runs_dir()
    host = HostView(base if base.is_dir() else Path.cwd())
    n = 1 if once else count
    try:
        time.sleep(min(interval, 0.5))  # CPU busy % is measured between two reads
        if as_json:
            for i in range(n or 1_000_000_000):
                if i:
                    time.sleep(interval)
                emit_json(view_document(host, base))
            return
        _live(host, base, interval, n)
    except KeyboardInterrupt:
        pass
    finally:
        host.close()


def _live(host: Any, base: Path, interval: float, n: int) -> None:
    from rich.live import Live

    from tcplab.monitor import view_document

    doc = view_document(host, base)
    if n == 1:
        console.print(_render(doc))
        return
    with Live(_render(doc), console=console, auto_refresh=False) as live:
        i = 1
        while not n or i < n:
            time.sleep(interval)
            live.update(_render(view_document(host, base)), refresh=True)
            i += 1


def _gb(x: float | None) -> str:
    return "—" if x is None else f"{x / 1e9:.1f} GB"


def _host_table(host: dict[str, Any]) -> Any:
    from rich.table import Table

    m = host["metrics"]
    t = Table(title="Host", show_header=False, title_justify="left")
    t.add_column("measure", style="bold")
    t.add_column("value")
    if "cpu_busy_percent" in m:
        per = " ".join(f"{c['value']:.0f}" for c in m.get("cpu_percent", []))
        t.add_row("CPU busy", f"{m['cpu_busy_percent']:.1f}%  (per CPU: {per})")
    if "load1" in m:
        t.add_row("load 1/5/15 min", f"{m['load1']:.2f} {m['load5']:.2f} {m['load15']:.2f}")
    if "memory_total_bytes" in m:
        used, total = m["memory_used_bytes"], m["memory_total_bytes"]
        t.add_row("memory used", f"{_gb(used)} of {_gb(total)}")
        t.add_row("swap used", f"{_gb(m['swap_used_bytes'])} of {_gb(m['swap_total_bytes'])}")
    for d in m.get("disk_free_bytes", []):
        t.add_row(f"disk free ({_escape(d['labels']['path'])})", _gb(d["value"]))
    for g in m.get("gpu_utilization_percent", []):
        t.add_row(f"GPU {g['labels']['gpu']} busy", f"{g['value']:.0f}%")
    for name, status in host["sources"].items():
        if status != "ok":
            t.add_row(f"[dim]{name}[/dim]", f"[dim]{_escape(status)}[/dim]")
    return t


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _runs_table(runs: list[dict[str, Any]], base: str) -> Any:
    from rich.table import Table

    t = Table(title=f"Running runs ({_escape(base)})", title_justify="left")
    for col in ("run", "state", "shards", "trials", "progress", "heartbeat"):
        t.add_column(col)
    for r in runs:
        hb = r["heartbeat_age_s"]
        t.add_row(
            _escape(r["run_id"]),
            "live" if r["liveness"] == "live" else "[red]dead[/red]",
            f"{r['shards_done']}/{r['shards_total']}",
            f"{r['trials_done']}/{r['trials_total']}",
            f"{r['progress']:.0%}",
            "—" if hb is None else f"{hb:.0f} s ago",
        )
    if not runs:
        t.add_row("(none)", "", "", "", "", "")
    return t


def _render(doc: dict[str, Any]) -> Any:
    from rich.console import Group

    return Group(_host_table(doc["host"]), _runs_table(doc["runs"], doc["runs_dir"]))
