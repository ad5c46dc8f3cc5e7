"""``tcplab quickstart``: build a small registry from the embedded sample and decide on tools.

This is what ``make run`` runs until the experiment engine lands. The sample labels are an
illustration shipped in the package, not ground truth for any experiment.
"""

from __future__ import annotations

import csv
import gc
import io
import time
from importlib import resources
from typing import Annotated

import typer
from rich.table import Table

from tcplab.cli._console import console
from tcplab.config import get_settings
from tcplab.descriptor import encode
from tcplab.registry import DecisionCache, Registry, decide_cold, write_registry

__all__ = ["register"]

_DEFAULT_TOOLS = ["ls", "cat", "ps", "cp", "curl", "chmod", "systemctl", "rm", "dd", "frobnicate"]


def _per_call_ns(fn: object, arg: str, loops: int = 200_000) -> float:
    """Mean ns per call over a batch of ``loops`` calls (GC off), minus the empty-loop cost."""
    call = fn  # local for speed
    gc_was = gc.isenabled()
    gc.disable()
    try:
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            pass
        empty = time.perf_counter_ns() - t0
        t0 = time.perf_counter_ns()
        for _ in range(loops):
            call(arg)  # type: ignore[operator]
        total = time.perf_counter_ns() - t0
    finally:
        if gc_was:
            gc.enable()
    return max(total - empty, 0) / loops


def register(app: typer.Typer) -> None:
    """Add the ``quickstart`` command to ``app``."""

    @app.command("quickstart")
    def quickstart(
        tools: Annotated[list[str] | None, typer.Argument(help="Tools to decide on.")] = None,
    ) -> None:
        """Build a sample registry in TCPLAB_HOME and show the agent's decision for some tools."""
        settings = get_settings()
        text = resources.files("tcplab.data").joinpath("sample_tools.csv").read_text("utf-8")
        entries = []
        for row in csv.DictReader(io.StringIO(text)):
            caps = [c for c in row["capabilities"].split("|") if c]
            entries.append((row["command"], encode(row["command"], row["risk_level"], caps)))
        path = settings.registry_dir / "sample.tcpdb"
        n = write_registry(path, entries)
        console.print(
            f"Built a sample registry of {n} TCP descriptors (24 bytes each): {path}\n",
            highlight=False,
        )
        table = Table(title="What an agent decides before running each tool")
        for col in ("tool", "risk level", "capabilities", "decision", "cold ns", "cached ns"):
            table.add_column(col, justify="right" if col.endswith("ns") else "left")
        with Registry(path) as reg:
            cache = DecisionCache(reg)
            for tool in tools or _DEFAULT_TOOLS:
                level, decision = decide_cold(reg, tool)
                caps = reg.lookup(tool).capabilities if tool in reg else []
                cold = _per_call_ns(lambda t, r=reg: decide_cold(r, t), tool, 20_000)
                cached = _per_call_ns(cache.decide, tool)
                table.add_row(
                    tool,
                    level.name,
                    ", ".join(caps) or "-",
                    decision.value,
                    f"{cold:,.0f}",
                    f"{cached:,.0f}",
                )
        console.print(table)
        console.print(
            "cold = look up the 24 bytes in the memory-mapped registry, validate, decode,\n"
            "       apply the policy;\n"
            "cached = one hash-map probe into decisions verified when the registry was loaded.\n"
            "Times are means over batches of calls in this run on this machine, not a benchmark;\n"
            "`make bench` gives ratios against baselines. Tools not in the registry are UNKNOWN\n"
            "and need approval (fail closed).",
            highlight=False,
        )
