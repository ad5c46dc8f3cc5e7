"""``tcplab run`` and ``tcplab runs``: run experiments, list and show runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from tcplab.analyzers import default_registry
from tcplab.cli._console import console, err_console
from tcplab.errors import UsageError
from tcplab.experiment import (
    Progress,
    find_run,
    load_spec,
    make_executor,
    prepare_run,
    run_experiment,
    runs_dir,
)

__all__ = ["register", "runs_app"]

runs_app = typer.Typer(help="List and inspect experiment runs.", no_args_is_help=True)


def _bar_columns() -> tuple[Any, ...]:
    return (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10}"),
        TimeRemainingColumn(),
        TextColumn("failures {task.fields[failures]}"),
    )


def _execute(
    run_dir: Path,
    ex: Any,
    store: Any,
    db: str | None,
    artifacts: str | None,
    use_db: bool,
    sample_interval: float | None = None,
) -> None:
    """Run with a progress bar; the library does the rest (store, artifacts, status)."""
    from tcplab.experiment import RunDir

    rd = RunDir(run_dir)
    record = rd.read_record()
    rd.read_plan(record)  # a damaged run is refused before any progress is drawn
    bar = RichProgress(*_bar_columns(), console=err_console, transient=False)
    tasks: dict[str, TaskID] = {}

    def update(p: Progress, _r: Any) -> None:
        if not tasks:  # the bar appears once the first shard is in (checks passed)
            bar.start()
            for arm, n in record.trials_by_arm.items():
                tasks[arm] = bar.add_task(escape(arm), total=n, rate="", failures=0)
        for arm, task in tasks.items():
            speed = bar.tasks[task].speed
            bar.update(
                task,
                completed=p.done_by_arm.get(arm, 0),
                failures=p.failures_by_arm.get(arm, 0),
                rate=f"{speed:,.0f}/s" if speed else "",
            )

    try:
        outcome = run_experiment(
            run_dir,
            executor=ex,
            on_shard=update,
            store=store,
            db=db,
            use_store=use_db,
            artifacts=artifacts,
            sample_interval=sample_interval,
        )
    finally:
        bar.stop()
    for warning in outcome.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    if outcome.stored_in:
        console.print(f"results stored in {escape(outcome.stored_in)}", highlight=False)
    if outcome.artifacts_url:
        console.print(f"artifacts pushed to {escape(outcome.artifacts_url)}", highlight=False)
    console.print(
        f"run {escape(outcome.run_id)}: {outcome.status} ({outcome.shards_run} shards run, "
        f"{outcome.n_trials} trials planned)\n{escape(str(outcome.run_dir))}",
        highlight=False,
    )
    if outcome.status != "completed":
        raise typer.Exit(1)


def _options(
    executor: str | None,
    workers: int | None,
    db: str | None,
    artifacts: str | None,
    use_db: bool,
    sample_interval: float | None = None,
) -> tuple[Any, Any]:
    """Check the run options before any run directory exists (a refused option leaves no
    orphan run): the executor, the store URL, the artifacts URL."""
    if executor is not None:
        make_executor(executor, workers or 1)
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    if sample_interval:  # 0 = off
        from tcplab.monitor import check_interval

        check_interval(sample_interval)
    store = None
    if use_db:
        from tcplab.experiment import open_result_store

        store, warning = open_result_store(db)
        if warning:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
    url = artifacts or os.environ.get("TCPLAB_ARTIFACTS_URL")
    if url:
        from tcplab.store import open_artifacts

        open_artifacts(url)
    return store, None


def _executor_for(run_dir: Path, executor: str | None, workers: int | None) -> Any:
    from tcplab.experiment import RunDir

    spec_ex = RunDir(run_dir).read_record().spec.get("executor", {})
    return make_executor(
        executor or spec_ex.get("kind", "local"),
        workers or spec_ex.get("workers", 1),
        spec_ex.get("address"),
        spec_ex.get("max_retries", 2),
    )


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``runs`` to ``app``."""

    @app.command("run")
    def run_cmd(
        spec: Annotated[Path | None, typer.Argument(help="Experiment spec (YAML).")] = None,
        executor: Annotated[
            str | None,
            typer.Option("--executor", help="inline, local or ray (default: the spec's)."),
        ] = None,
        workers: Annotated[int | None, typer.Option("--workers", help="Worker count.")] = None,
        out: Annotated[
            Path | None,
            typer.Option("--out", help="Parent directory of the run (default TCPLAB_HOME/runs)."),
        ] = None,
        resume: Annotated[
            str | None,
            typer.Option("--resume", help="Resume RUN_ID: run only its unfinished shards."),
        ] = None,
        db: Annotated[
            str | None,
            typer.Option(
                "--db",
                help="SQLAlchemy URL of the result store (default "
                "TCPLAB_DATABASE_URL, else the SQLite file in TCPLAB_HOME).",
            ),
        ] = None,
        no_db: Annotated[
            bool, typer.Option("--no-db", help="Do not write to the result store.")
        ] = False,
        sample_interval: Annotated[
            float | None,
            typer.Option(
                "--sample-interval",
                help="Seconds between resource samples (0 = off; default "
                "TCPLAB_SAMPLE_INTERVAL, else 1).",
            ),
        ] = None,
        artifacts: Annotated[
            str | None,
            typer.Option(
                "--artifacts",
                help="Push the finished run to this directory or "
                "s3://bucket/prefix (default TCPLAB_ARTIFACTS_URL; none).",
            ),
        ] = None,
    ) -> None:
        """Run an experiment; prints the run id. Ctrl-C leaves it resumable."""
        if resume and spec is not None:
            raise UsageError("give either a spec or --resume RUN_ID, not both")
        if not resume and spec is None:
            raise UsageError("give a spec file (or --resume RUN_ID)")
        parsed = load_spec(spec, default_registry().names()) if spec is not None else None
        store, _ = _options(executor, workers, db, artifacts, not no_db, sample_interval)
        if resume:
            run_dir = find_run(resume) if out is None else out / resume
            console.print(f"resuming {escape(run_dir.name)}", highlight=False)
        else:
            assert spec is not None and parsed is not None
            run_dir, meta, plan = prepare_run(parsed, spec.resolve().parent, out)
            console.print(
                f"run id: {escape(meta.run_id)}  ({plan.n_trials:,} trials in "
                f"{plan.n_shards} shards, {len(plan.tools)} tools × "
                f"{len(plan.arms)} arms × {parsed.iterations} iterations)",
                highlight=False,
            )
        try:
            ex = _executor_for(run_dir, executor, workers)
            _execute(run_dir, ex, store, db, artifacts, not no_db, sample_interval)
        except KeyboardInterrupt:
            err_console.print(
                escape(f"cancelled; resume with: tcplab run --resume {run_dir.name}"),
                highlight=False,
            )
            raise typer.Exit(130) from None

    app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Runs under TCPLAB_HOME/runs, newest first (unreadable run records are listed as such)."""
    from tcplab.experiment import RunDir

    rows = []
    base = runs_dir()
    for p in sorted(base.glob("*/run.json"), reverse=True) if base.is_dir() else []:
        rd = RunDir(p.parent)
        try:
            rec = rd.read_record()
        except UsageError as exc:
            rows.append({"run_id": p.parent.name, "status": "unreadable", "error": str(exc)})
            continue
        row = {
            k: getattr(rec, k)
            for k in ("run_id", "name", "status", "started_at", "finished_at", "n_trials")
        }
        if rd.liveness(rec) == "dead":
            row["status"] = "running (dead)"
        rows.append(row)
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=escape(f"runs in {base}"))
    for col in ("run_id", "name", "status", "started_at", "n_trials"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            *(
                escape(str(r.get(c, "")))
                for c in ("run_id", "name", "status", "started_at", "n_trials")
            )
        )
    console.print(table)


def _liveness_text(rd: Any, rec: Any) -> str:
    state = rd.liveness(rec)
    age = rd.heartbeat_age()
    beat = f"last heartbeat {age:.0f} s ago" if age is not None else "no heartbeat"
    who = f"pid {rec.owner.pid} on {rec.owner.host}" if rec.owner else "unknown process"
    if state == "live":
        return f"live ({who}, {beat})"
    if state == "dead":
        hint = f"resume with `tcplab run --resume {rec.run_id}`"
        return f"dead ({who} no longer holds the run; {beat}) — {hint}"
    return "not running"


@runs_app.command("show")
def show_cmd(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run's metadata, how many of its shards are done, and whether it is alive."""
    from tcplab.experiment import RunDir

    rd = RunDir(find_run(run))
    rec = rd.read_record()
    scan = rd.scan_shards(rd.read_plan(rec), rec)
    meta = rec.to_json_dict()
    meta["shards_done"] = len(scan.complete)
    meta["shards_corrupt"] = sorted(scan.corrupt)
    meta["liveness"] = rd.liveness(rec)
    meta["heartbeat_age_s"] = rd.heartbeat_age()
    if as_json:
        typer.echo(json.dumps(meta, default=str))
        return
    for key in (
        "run_id",
        "name",
        "status",
        "started_at",
        "finished_at",
        "n_trials",
        "n_shards",
        "shards_done",
        "seed",
        "spec_hash",
        "plan_hash",
        "trials_by_arm",
    ):
        console.print(f"[bold]{key:>14}[/]: {escape(str(meta.get(key)))}", highlight=False)
    console.print(f"[bold]{'process':>14}[/]: {escape(_liveness_text(rd, rec))}", highlight=False)
    if scan.corrupt:
        bad = ", ".join(str(i) for i in sorted(scan.corrupt))
        console.print(
            f"[bold]{'corrupt':>14}[/]: shards {bad} (re-run with --resume)", highlight=False
        )
    for w in rec.warnings:
        console.print(f"[bold]{'warning':>14}[/]: {escape(w)}", highlight=False)
    env = rec.environment
    console.print(
        f"[bold]{'host':>14}[/]: "
        + escape(f"{env.get('host')} ({env.get('cpu_model')}, {env.get('cpu_count')} cores)"),
        highlight=False,
    )
    console.print(f"[bold]{'clock':>14}[/]: {escape(str(rec.clock))}", highlight=False)
