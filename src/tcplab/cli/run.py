"""``tcplab run`` and ``tcplab runs``: run experiments, list and show runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, TaskID, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from tcplab.analyzers import default_registry
from tcplab.cli._console import console, err_console
from tcplab.errors import MissingDependencyError, StoreError, UsageError
from tcplab.experiment import (
    Progress,
    find_run,
    load_spec,
    make_executor,
    prepare_run,
    run_experiment,
    runs_dir,
)
from tcplab.experiment._worker import ShardResult

__all__ = ["register", "runs_app"]

runs_app = typer.Typer(help="List and inspect experiment runs.", no_args_is_help=True)


def _open_result_store(db: str | None) -> Any:
    """The SQL result store, or None (with a warning) when it cannot be used right now."""
    try:
        from tcplab.store import open_store

        return open_store(db)
    except (StoreError, MissingDependencyError) as exc:
        err_console.print(
            f"[yellow]warning:[/] result store not used ({exc}); trials still go "
            "to Parquet — load them later with `tcplab runs sync RUN`",
            highlight=False,
        )
        return None


def _finish_stores(run_dir: Path, store: Any, artifacts: str | None) -> None:
    """Final run row and per-tool results into the SQL store; push to the artifact store."""
    meta = json.loads((run_dir / "run.json").read_text())
    if store is not None:
        try:
            from tcplab.store import compute_results

            store.upsert_run(meta)
            store.write_results(meta["run_id"], compute_results(run_dir))
            console.print(
                f"results stored in {store.url if hasattr(store, 'url') else 'db'}", highlight=False
            )
        except StoreError as exc:
            err_console.print(
                f"[yellow]warning:[/] {exc}; run `tcplab runs sync {meta['run_id']}` later",
                highlight=False,
            )
        finally:
            store.close()
    url = artifacts or os.environ.get("TCPLAB_ARTIFACTS_URL")
    if url:
        from tcplab.store import push_run

        try:
            dest = push_run(run_dir, url)
            console.print(f"artifacts pushed to {dest}", highlight=False)
        except StoreError as exc:
            err_console.print(
                f"[yellow]warning:[/] artifacts not pushed ({exc}); run "
                f"`tcplab runs push {meta['run_id']} --to {url}` later",
                highlight=False,
            )


def _execute(
    run_dir: Path,
    executor: str | None,
    workers: int | None,
    db: str | None = None,
    artifacts: str | None = None,
    use_db: bool = True,
) -> None:
    meta = json.loads((run_dir / "run.json").read_text())
    spec_ex = meta["spec"]["executor"]
    ex = make_executor(
        executor or spec_ex["kind"],
        workers or spec_ex["workers"],
        spec_ex.get("address"),
        spec_ex.get("max_retries", 2),
    )
    columns = (
        TextColumn("{task.description:<16}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>10}"),
        TimeRemainingColumn(),
        TextColumn("failures {task.fields[failures]}"),
    )
    with RichProgress(*columns, console=err_console, transient=False) as bar:
        tasks: dict[str, TaskID] = {
            arm: bar.add_task(arm, total=n, rate="", failures=0)
            for arm, n in meta["trials_by_arm"].items()
        }

        def update(p: Progress, _r: ShardResult) -> None:
            for arm, task in tasks.items():
                speed = bar.tasks[task].speed
                bar.update(
                    task,
                    completed=p.done_by_arm.get(arm, 0),
                    failures=p.failures_by_arm.get(arm, 0),
                    rate=f"{speed:,.0f}/s" if speed else "",
                )

        store = _open_result_store(db) if use_db else None
        outcome = run_experiment(run_dir, executor=ex, on_shard=update, store=store)
    meta_after = json.loads((run_dir / "run.json").read_text())
    if store is not None and meta_after.get("store_errors"):
        err_console.print(
            f"[yellow]warning:[/] result store failed during the run "
            f"({meta_after['store_errors'][0]}); trials are safe in Parquet",
            highlight=False,
        )
        store = None
    _finish_stores(run_dir, store, artifacts)
    console.print(
        f"run {outcome.run_id}: {outcome.status} ({outcome.shards_run} shards run, "
        f"{outcome.n_trials} trials planned)\n{outcome.run_dir}",
        highlight=False,
    )
    if outcome.status != "completed":
        raise typer.Exit(1)


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
        if resume:
            if spec is not None:
                raise UsageError("give either a spec or --resume RUN_ID, not both")
            run_dir = find_run(resume) if out is None else out / resume
            console.print(f"resuming {run_dir.name}", highlight=False)
        else:
            if spec is None:
                raise UsageError("give a spec file (or --resume RUN_ID)")
            parsed = load_spec(spec, default_registry().names())
            run_dir, meta, plan = prepare_run(parsed, spec.resolve().parent, out)
            console.print(
                f"run id: {meta['run_id']}  ({plan.n_trials:,} trials in "
                f"{plan.n_shards} shards, {len(plan.tools)} tools × "
                f"{len(plan.arms)} arms × {parsed.iterations} iterations)",
                highlight=False,
            )
        try:
            _execute(run_dir, executor, workers, db, artifacts, not no_db)
        except KeyboardInterrupt:
            err_console.print(f"cancelled; resume with: tcplab run --resume {run_dir.name}")
            raise typer.Exit(130) from None

    app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def list_cmd(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Runs under TCPLAB_HOME/runs, newest first."""
    rows = []
    base = runs_dir()
    for p in sorted(base.glob("*/run.json"), reverse=True) if base.exists() else []:
        try:
            m = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        rows.append(
            {
                k: m.get(k)
                for k in ("run_id", "name", "status", "started_at", "finished_at", "n_trials")
            }
        )
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table(title=f"runs in {base}")
    for col in ("run_id", "name", "status", "started_at", "n_trials"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("run_id", "name", "status", "started_at", "n_trials")))
    console.print(table)


@runs_app.command("show")
def show_cmd(
    run: Annotated[str, typer.Argument(help="Run id or directory.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Show a run's metadata and how many of its shards are done."""
    from tcplab.experiment import completed_shards

    run_dir = find_run(run)
    meta = json.loads((run_dir / "run.json").read_text())
    meta["shards_done"] = len(completed_shards(run_dir))
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
        console.print(f"[bold]{key:>14}[/]: {meta.get(key)}", highlight=False)
    env = meta.get("environment", {})
    console.print(
        f"[bold]{'host':>14}[/]: {env.get('host')} ({env.get('cpu_model')}, "
        f"{env.get('cpu_count')} cores)",
        highlight=False,
    )
    console.print(f"[bold]{'clock':>14}[/]: {meta.get('clock')}", highlight=False)
