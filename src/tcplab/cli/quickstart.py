"""``tcplab quickstart``: what ``make run`` runs.

Scans this machine's tools (when no corpus exists yet), generates the descriptor registry (when
missing), runs ``examples/quickstart.yaml`` and prints a summary a newcomer can read.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from tcplab.analyzers import default_registry
from tcplab.cli._console import console, err_console
from tcplab.config import get_settings
from tcplab.corpus import read_corpus, scan_tools, write_corpus
from tcplab.errors import MissingDependencyError, UsageError
from tcplab.experiment import (
    ExperimentSpec,
    ToolSelection,
    load_spec,
    prepare_run,
    run_experiment,
)
from tcplab.generator import default_explain_path, generate_registry
from tcplab.rules import load_rules

__all__ = ["default_spec_path", "register", "summary_table"]


def default_spec_path() -> Path:
    """The quickstart spec shipped with the package (``examples/quickstart.yaml`` links to it)."""
    from tcplab.resources import example_spec

    return example_spec("quickstart")


def _ensure_corpus_and_registry() -> None:
    settings = get_settings()
    corpus = settings.corpus_dir / "corpus.parquet"
    registry = settings.registry_dir / "tools.tcpdb"
    if not corpus.exists():
        console.print("Scanning the tools on PATH and their man pages (no tool is run)…")
        with Progress(console=err_console, transient=True) as bar:
            task = bar.add_task("scanning", total=None)
            result = scan_tools(
                progress=lambda done, total: bar.update(task, completed=done, total=total)
            )
        write_corpus(result.rows, corpus)
        console.print(escape(f"  {len(result.rows)} tools -> {corpus}"), highlight=False)
    if not registry.exists() or _stale(registry):
        result2 = generate_registry(read_corpus(corpus), registry)
        console.print(
            escape(f"Generated {result2.n_tools} TCP descriptors -> {registry}"), highlight=False
        )


def _stale(registry: Path) -> bool:
    """True when the registry was generated with other rules than the current default."""
    explain = default_explain_path(registry)
    try:
        with explain.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError):
        return True
    return bool(first.get("rules_sha256") != load_rules().sha256)


def _pct(v: float | None) -> str:
    return "—" if v is None else f"{v:.1%}"


def summary_table(run_dir: Path) -> Table:
    """Per arm, from the one reduction the report and the SQL store use: unsafe approvals
    first, then accuracy against the labels, failures, latency, speed relative to tcp."""
    from tcplab.report import arm_table

    table = Table(title="Same tools, same documentation, independent labels")
    cols = ("arm", "tools", "unsafe approvals", "accuracy", "failures", "median", "p99", "vs tcp")
    for col in cols:
        table.add_column(col, justify="left" if col == "arm" else "right", no_wrap=True)
    for row in arm_table(run_dir):
        table.add_row(
            escape(row.arm),
            str(row.n_tools),
            _pct(row.unsafe_approval_rate),
            _pct(row.accuracy),
            str(row.n_failed),
            _ns(row.latency_p50_ns),
            _ns(row.latency_p99_ns),
            "—" if row.speed_ratio is None else f"{row.speed_ratio:,.0f}×",
        )
    return table


def _ns(v: float | None) -> str:
    if v is None:
        return "—"
    if v < 1e3:
        return f"{v:.0f} ns"
    if v < 1e6:
        return f"{v / 1e3:.1f} µs"
    if v < 1e9:
        return f"{v / 1e6:.1f} ms"
    return f"{v / 1e9:.2f} s"


def _narrow(parsed: ExperimentSpec, limit: int | None, arms: str | None) -> ExperimentSpec:
    """The spec with a smaller tool sample and/or a subset of its arms."""
    update: dict[str, object] = {}
    if limit is not None:
        if limit < 1:
            raise UsageError(f"--limit must be at least 1 (got {limit})")
        update["tools"] = ToolSelection(kind="sample", n=limit)
    if arms:
        wanted = [a.strip() for a in arms.split(",") if a.strip()]
        known = [a.name for a in parsed.arms]
        unknown = [a for a in wanted if a not in known]
        if unknown or not wanted:
            raise UsageError(f"--arms: unknown arm(s) {unknown}; the spec has: {', '.join(known)}")
        update["arms"] = [a for a in parsed.arms if a.name in wanted]
    return parsed.model_copy(update=update) if update else parsed


def register(app: typer.Typer) -> None:
    """Add the ``quickstart`` command to ``app``."""

    @app.command("quickstart")
    def quickstart(
        spec: Annotated[
            Path | None,
            typer.Option("--spec", help="Spec to run (default: the shipped quickstart spec)."),
        ] = None,
        limit: Annotated[
            int | None,
            typer.Option("--limit", help="Run on a stratified sample of N labeled tools."),
        ] = None,
        arms: Annotated[
            str | None,
            typer.Option("--arms", help="Comma-separated subset of the spec's arms."),
        ] = None,
    ) -> None:
        """Scan, generate the registry, run the quickstart experiment and summarise it."""
        spec_path = spec or default_spec_path()
        parsed = _narrow(load_spec(spec_path, default_registry().names()), limit, arms)
        _ensure_corpus_and_registry()
        run_dir, meta, plan = prepare_run(parsed, spec_path.resolve().parent)
        console.print(
            f"Running {plan.n_trials:,} trials ({len(plan.tools)} tools × "
            f"{len(plan.arms)} arms × {parsed.iterations} iterations), run id "
            f"{escape(meta.run_id)}…",
            highlight=False,
        )
        outcome = run_experiment(run_dir)
        for warning in outcome.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        wide = Console(width=max(console.width, 112), soft_wrap=False)  # the table never wraps
        wide.print(summary_table(run_dir))
        console.print(
            "unsafe approvals = share of HIGH_RISK/CRITICAL tools the arm would approve; "
            "accuracy = mean over tools of the fraction of correct trials, against "
            f"{escape(str(meta.labels))}\n(held out: no arm was developed on these tools). "
            "Latency is per decision: tcp arms are means of\ncalibrated batches, other arms "
            "one call per sample; arms take turns on one worker.",
            highlight=False,
        )
        _report(run_dir)
        console.print(
            escape(f"run {outcome.run_id}: {outcome.status} -> {run_dir}"), highlight=False
        )
        if outcome.status != "completed":
            raise typer.Exit(1)


def _report(run_dir: Path) -> None:
    from tcplab.report import build_report

    try:
        files = build_report(run_dir)
    except MissingDependencyError as exc:
        err_console.print(f"[yellow]warning:[/] no report: {escape(str(exc))}", highlight=False)
        return
    console.print(
        f"full report (statistics, plots, disagreements): {escape(str(files.html))}",
        highlight=False,
    )
