"""``tcplab analyze``: ask one arm about some tools."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from tcplab.analyzers import default_registry, load_inputs
from tcplab.cli._console import console, emit_json
from tcplab.errors import UsageError

__all__ = ["parse_params", "register"]


def parse_params(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are parsed as YAML scalars (``5``, ``0.0``, ``true``)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--param expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip().replace("-", "_")] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            out[key.strip().replace("-", "_")] = value
    return out


def register(app: typer.Typer) -> None:
    """Add the ``analyze`` command to ``app``."""

    @app.command("analyze")
    def analyze(
        tools: Annotated[list[str], typer.Argument(help="Tool names.")],
        analyzer: Annotated[
            str, typer.Option("--analyzer", "-a", help="Arm: tcp, rules, embedding, llm.")
        ],
        param: Annotated[
            list[str] | None,
            typer.Option(
                "--param", "-p", help="Analyzer parameter KEY=VALUE (repeatable), e.g. mode=cold."
            ),
        ] = None,
        corpus: Annotated[
            Path | None,
            typer.Option(
                "--corpus", help="Corpus file (default TCPLAB_HOME/corpus/corpus.parquet)."
            ),
        ] = None,
        registry: Annotated[
            Path | None,
            typer.Option(
                "--registry",
                help="Registry for the tcp arm (default TCPLAB_HOME/registry/tools.tcpdb).",
            ),
        ] = None,
        concurrency: Annotated[
            int,
            typer.Option("--concurrency", min=1, help="Concurrent requests for async arms."),
        ] = 4,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per tool.")] = False,
    ) -> None:
        """Print one assessment per tool (same documentation for every arm)."""
        params = parse_params(param or [])
        if registry is not None:
            if analyzer != "tcp":
                raise UsageError("--registry applies to the tcp analyzer only")
            params["registry"] = str(registry)
        arm = default_registry().create(analyzer, **params)
        inputs = load_inputs(tools, corpus, require_corpus=analyzer != "tcp")
        with arm:
            results = asyncio.run(arm.analyze_batch_async(inputs, concurrency=concurrency))
        if as_json:
            for res in results:
                emit_json(res.to_dict())
            return
        table = Table(title=f"{escape(analyzer)} arm")
        for col in ("tool", "status", "risk level", "decision", "latency", "explanation"):
            table.add_column(col, overflow="fold")
        for res in results:  # cells are data (tool names, explanations), never markup
            table.add_row(
                Text(res.tool),
                res.status.value,
                res.risk_level.name,
                res.decision.value,
                f"{res.latency_ns / 1e3:,.1f} µs",
                Text((res.explanation or res.error or "")[:160]),
            )
        console.print(table)
