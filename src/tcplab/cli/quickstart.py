"""``tcplab quickstart``: what ``make run`` runs.

Scans this machine's tools (when no corpus exists yet), generates the descriptor registry (when
missing), runs ``examples/quickstart.yaml`` and prints a summary a newcomer can read.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated

import pyarrow.compute as pc
import typer
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
    read_trials,
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
        console.print(f"  {len(result.rows)} tools -> {corpus}", highlight=False)
    if not registry.exists() or _stale(registry):
        result2 = generate_registry(read_corpus(corpus), registry)
        console.print(f"Generated {result2.n_tools} TCP descriptors -> {registry}", highlight=False)


def _stale(registry: Path) -> bool:
    """True when the registry was generated with other rules than the current default."""
    explain = default_explain_path(registry)
    try:
        with explain.open(encoding="utf-8") as fh:
            first = json.loads(fh.readline())
    except (OSError, ValueError):
        return True
    return bool(first.get("rules_sha256") != load_rules().sha256)


def summary_table(run_dir: Path) -> Table:
    """Per arm: tools, accuracy against the labels, failures, latency, speed relative to tcp."""
    t = read_trials(run_dir, ["tool", "arm", "correct", "latency_ns", "status"])
    arm_list = t["arm"].to_pylist()
    arms = sorted(set(arm_list), key=arm_list.index)
    table = Table(title="Same tools, same documentation, independent labels")
    for col in ("arm", "tools", "accuracy", "failures", "median", "p99", "vs tcp"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    rows, med = [], {}
    for arm in arms:
        s = t.filter(pc.equal(t["arm"], arm))
        lat = sorted(s["latency_ns"].to_pylist())
        per_tool: dict[str, list[bool]] = {}
        for tool, ok in zip(s["tool"].to_pylist(), s["correct"].to_pylist(), strict=True):
            if ok is not None:
                per_tool.setdefault(tool, []).append(bool(ok))
        vals = [sum(v) / len(v) for v in per_tool.values()]
        acc = f"{statistics.fmean(vals):.1%}" if vals else "-"
        med[arm] = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
        fails = sum(st != "OK" for st in s["status"].to_pylist())
        rows.append((arm, len(set(s["tool"].to_pylist())), acc, fails, med[arm], p99))
    ref = med.get("tcp") or min(med.values())
    for arm, n_tools, acc, fails, m, p99 in rows:
        table.add_row(arm, str(n_tools), acc, str(fails), _ns(m), _ns(p99), f"{m / ref:,.0f}×")
    return table


def _ns(v: float) -> str:
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
            f"{meta.run_id}…",
            highlight=False,
        )
        outcome = run_experiment(run_dir)
        for warning in outcome.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
        console.print(summary_table(run_dir))
        console.print(
            f"accuracy = mean over tools of the fraction of correct trials, against "
            f"{escape(str(meta.labels))}\n(held out: no arm was developed on these tools). "
            "Latency is per decision: tcp arms are means of\ncalibrated batches, other arms "
            "one call per sample; arms take turns on one worker.",
            highlight=False,
        )
        _report(run_dir)
        console.print(
            f"run {outcome.run_id}: {outcome.status} -> {escape(str(run_dir))}", highlight=False
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
