"""``tcplab report`` and ``tcplab compare``: statistical reports and regression checks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tcplab.cli._console import console, emit_json, err_console
from tcplab.errors import UsageError

__all__ = ["register"]

_Resamples = Annotated[
    int, typer.Option("--resamples", help="Bootstrap resamples of tools for every CI.")
]
_Seed = Annotated[int, typer.Option("--seed", help="Seed of every bootstrap.")]
_Confidence = Annotated[float, typer.Option("--confidence", help="CI coverage.")]


def register(app: typer.Typer) -> None:
    """Add ``report`` and ``compare`` to ``app``."""
    app.command("report")(report_cmd)
    app.command("compare")(compare_cmd)


def report_cmd(
    run: Annotated[
        str, typer.Argument(help="Run id (under TCPLAB_HOME/runs), run directory or s3:// URL.")
    ],
    out: Annotated[
        Path | None, typer.Option("--out", help="Report directory (default RUN_DIR/report).")
    ] = None,
    reference: Annotated[
        str | None,
        typer.Option("--reference", help="Arm the speed ratios are taken against."),
    ] = None,
    usd_per_core_hour: Annotated[
        float,
        typer.Option("--usd-per-core-hour", help="Price of a CPU core-hour (local arms)."),
    ] = 0.05,
    tost_margin: Annotated[
        float, typer.Option("--tost-margin", help="Accuracy equivalence margin (0.05 = 5 pts).")
    ] = 0.05,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    resamples: _Resamples = 10_000,
    seed: _Seed = 0,
    confidence: _Confidence = 0.95,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print summary.json to stdout as well.")
    ] = False,
) -> None:
    """Write report.html, report.md and summary.json for a run."""
    from tcplab.report import ReportSettings, build_report, resolve_run

    if out is not None:
        _check_out_dir(out)
    settings = ReportSettings(
        n_resamples=resamples,
        seed=seed,
        confidence=confidence,
        alpha=alpha,
        tost_margin=tost_margin,
        usd_per_core_hour=usd_per_core_hour,
        reference_arm=reference,
    )
    files = build_report(resolve_run(run), settings, out)
    if as_json:
        typer.echo(files.summary.read_text(), nl=False)
        return
    console.print(
        escape(
            f"report written to {files.out_dir}\n  {files.html}\n  {files.markdown}\n"
            f"  {files.summary}"
        ),
        highlight=False,
    )
    for warning in json.loads(files.summary.read_text()).get("warnings") or []:
        err_console.print(f"[yellow]run warning:[/] {escape(warning)}", highlight=False)


def _check_out_dir(out: Path) -> None:
    """Refuse an --out that cannot be a directory before any statistics are computed."""
    probe = out
    while not probe.exists() and not probe.is_symlink() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        what = "is not a directory" if probe.exists() else "cannot be resolved (symlink loop?)"
        raise UsageError(f"--out {out}: {probe} {what}; give a report directory")


def compare_cmd(
    run_a: Annotated[str, typer.Argument(help="Baseline run (id, directory or s3:// URL).")],
    run_b: Annotated[str, typer.Argument(help="New run (id, directory or s3:// URL).")],
    arm: Annotated[
        str | None, typer.Option("--arm", help="Arm to compare (default: every common arm).")
    ] = None,
    threshold: Annotated[
        float,
        typer.Option("--threshold", help="Noise threshold on the latency ratio (0.05 = 5%)."),
    ] = 0.05,
    fail_on_regression: Annotated[
        bool,
        typer.Option("--fail-on-regression", help="Exit 1 when an arm is significantly slower."),
    ] = False,
    resamples: _Resamples = 10_000,
    seed: _Seed = 0,
    confidence: _Confidence = 0.95,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Compare the same arm across two runs: latency ratio B/A and accuracy B - A."""
    from tcplab.report import ReportSettings, compare_runs, resolve_run

    settings = ReportSettings(n_resamples=resamples, seed=seed, confidence=confidence)
    result = compare_runs(
        resolve_run(run_a), resolve_run(run_b), arm=arm, threshold=threshold, settings=settings
    )
    if as_json:
        emit_json(result)
    else:
        console.print(
            escape(
                f"{result['run_b']['run_id']} (B) vs {result['run_a']['run_id']} (A), "
                f"noise threshold ±{threshold:.0%}"
            ),
            highlight=False,
        )
        for side in ("run_a", "run_b"):  # where each run measured from, RTT to the LLM endpoint
            w = result[side]
            rtt = "n/a" if w["network_rtt_ms"] is None else f"{w['network_rtt_ms']:.1f} ms"
            where = f"region {w['region'] or 'not recorded'} ({w['provider'] or '?'}), RTT {rtt}"
            console.print(escape(f"  {side[-1].upper()}: {where}"), highlight=False)
        for name, v in result["arms"].items():
            console.print(escape(f"  {name}: {_line(v)}"), highlight=False)
    if fail_on_regression and result["regression"]:
        raise typer.Exit(1)


def _line(v: dict[str, object]) -> str:
    lat = v["latency"]["ratio_b_over_a"]  # type: ignore[index]
    acc = v["accuracy"]["difference_b_minus_a"]  # type: ignore[index]
    if lat.get("available") is False:
        speed = f"latency not comparable ({lat['reason']})"
    else:
        lo, hi = lat["ci"]
        speed = f"latency B/A {lat['estimate']:.3f} [{lo:.3f}, {hi:.3f}]: {lat['verdict']}"
        diff = v["latency"].get("difference_ms_b_minus_a") or {}  # type: ignore[attr-defined]
        if diff.get("ci"):
            d_lo, d_hi = diff["ci"]
            speed += f"; B-A {diff['estimate']:+.2f} ms per tool [{d_lo:+.2f}, {d_hi:+.2f}]"
    if acc.get("available") is False:
        return f"{speed}; accuracy not comparable ({acc['reason']})"
    lo, hi = acc["ci"]
    return (
        f"{speed}; accuracy B-A {100 * acc['estimate']:+.1f} pts "
        f"[{100 * lo:+.1f}, {100 * hi:+.1f}]: {acc['verdict']}"
    )
