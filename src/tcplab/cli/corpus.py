"""``tcplab corpus``: scan the tools on PATH and their documentation; show one row."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tcplab.cli._console import console, emit_json, err_console
from tcplab.config import get_settings
from tcplab.corpus import (
    CorpusFormat,
    ToolDoc,
    check_writable,
    infer_format,
    read_corpus,
    scan_tools,
    write_corpus,
)
from tcplab.errors import CorpusError

__all__ = ["app", "default_corpus_path"]

app = typer.Typer(
    help="Collect tool documentation (man pages) into a corpus.", no_args_is_help=True
)

_SECTION_PREVIEW_LINES = 4
_SECTION_PREVIEW_CHARS = 320


def default_corpus_path() -> Path:
    """``$TCPLAB_HOME/corpus/corpus.parquet``."""
    return get_settings().corpus_dir / "corpus.parquet"


def _split_dirs(values: list[Path] | None) -> list[Path] | None:
    """Each ``--path-dirs`` value may itself be a ``:``-separated list, like ``$PATH``."""
    if not values:
        return None
    return [Path(part) for value in values for part in str(value).split(os.pathsep) if part]


def _previous(out: Path, previous: Path | None, reuse: bool) -> dict[str, ToolDoc] | None:
    """The corpus whose renderings may be reused; ``None`` for a cold scan."""
    if not reuse:
        return None
    if previous is not None:
        return {row.name: row for row in read_corpus(previous)}
    if not out.exists():
        return None
    try:
        return {row.name: row for row in read_corpus(out)}
    except CorpusError as exc:
        err_console.print(
            escape(f"warning: not reusing {out}: {exc}"), highlight=False, soft_wrap=True
        )
        return None


def _scan_with_bar(
    path_dirs: list[Path] | None, allow_help: bool, prior: Any, workers: int | None
) -> Any:
    """Scan with a progress bar that appears once the tools are listed."""
    bar = Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), console=err_console, transient=True,
    )  # fmt: skip
    task = bar.add_task("scanning tools", total=None)
    started = False

    def progress(done: int, total: int) -> None:
        nonlocal started
        if not started:  # only once the tools are listed, so input errors print cleanly
            bar.start()
            started = True
        bar.update(task, completed=done, total=total)

    try:
        result = scan_tools(
            _split_dirs(path_dirs), allow_help=allow_help, previous=prior,
            workers=workers, progress=progress,
        )  # fmt: skip
    finally:
        if started:
            bar.stop()
    return result


@app.command("scan")
def scan_cmd(
    path_dirs: Annotated[
        list[Path] | None,
        typer.Option(
            "--path-dirs",
            metavar="DIR",
            help="Directory to scan instead of $PATH (repeatable; ':'-separated lists work too).",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            metavar="FILE",
            help="Corpus file (default: $TCPLAB_HOME/corpus/corpus.parquet).",
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="parquet|jsonl",
            help="parquet or jsonl (default: from --out's suffix, else parquet).",
        ),
    ] = None,
    allow_help: Annotated[
        bool,
        typer.Option(
            "--allow-help",
            help="Run TOOL --help in a sandbox for tools with "
            "no man page (runs arbitrary binaries; see docs/corpus.md).",
        ),
    ] = False,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers", min=1, metavar="N", help="Parallel renderers (default: 2 x CPUs)."
        ),
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(
            "--previous",
            metavar="FILE",
            help="Corpus to reuse unchanged pages from (default: --out when it exists).",
        ),
    ] = None,
    reuse: Annotated[
        bool, typer.Option("--reuse/--no-reuse", help="Reuse renderings of unchanged pages.")
    ] = True,
) -> None:
    """Find every executable and collect its man page, without running any tool."""
    out = out if out is not None else default_corpus_path()
    if fmt is not None and fmt not in ("parquet", "jsonl"):
        raise CorpusError(f"--format {fmt!r} is not supported; use parquet or jsonl")
    form: CorpusFormat = "jsonl" if fmt == "jsonl" else "parquet" if fmt else infer_format(out)
    check_writable(out)
    prior = _previous(out, previous, reuse)
    result = _scan_with_bar(path_dirs, allow_help, prior, workers)
    write_corpus(result.rows, out, form)
    help_part = f", {result.n_help} from --help" if allow_help else ""
    console.print(
        f"{result.n_tools} tools found, {result.n_man} with man page{help_part}, "
        f"{result.n_reused} reused ({result.n_rendered} rendered), {result.n_errors} errors, "
        f"{result.seconds:.1f}s -> {escape(str(out))} ({form})",
        highlight=False,
        soft_wrap=True,
    )


def _abbreviate(text: str) -> str:
    lines = text.splitlines()
    short = "\n".join(lines[:_SECTION_PREVIEW_LINES])[:_SECTION_PREVIEW_CHARS]
    if len(short) < len(text):
        short += f"\n… ({len(lines)} lines, {len(text)} chars)"
    return short


@app.command("show")
def show_cmd(
    name: Annotated[str, typer.Argument(help="Tool name.")],
    corpus: Annotated[
        Path | None,
        typer.Option(
            "--corpus",
            metavar="FILE",
            help="Corpus file (default: $TCPLAB_HOME/corpus/corpus.parquet).",
        ),
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Print the sections unabridged.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the row as one JSON object.")
    ] = False,
) -> None:
    """Print one tool's corpus row (sections abbreviated unless --full)."""
    path = corpus if corpus is not None else default_corpus_path()
    rows = {row.name: row for row in read_corpus(path)}
    row = rows.get(name)
    if row is None:
        close = difflib.get_close_matches(name, list(rows), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CorpusError(f"{name!r} is not in corpus {path} ({len(rows)} tools){hint}")
    if as_json:
        emit_json(row.to_dict())
        return
    for key, value in row.to_dict().items():
        if key not in ("sections", "doc_text"):
            console.print(f"[bold]{key:>15}[/]: {escape(str(value))}", highlight=False)
    for heading, body in row.sections.items():
        console.print(f"\n[bold]{escape(heading)}[/]", highlight=False)
        console.print(escape(body if full else _abbreviate(body)), highlight=False)
