"""``tcplab labels``: check label files and measure agreement between labelers."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from tcplab.cli._console import console, emit_json
from tcplab.errors import LabelsError
from tcplab.labels import (
    agreement,
    check_invocation_labels,
    check_labels,
    invocation_agreement,
    is_invocation_file,
    read_invocation_labels,
    read_labels,
)

__all__ = ["app"]

app = typer.Typer(help="Ground-truth label files (labels.csv).", no_args_is_help=True)


@app.command("check")
def check_cmd(
    path: Annotated[Path, typer.Argument(help="labels.csv to check.", readable=False)],
) -> None:
    """Report every problem at once (with line numbers); exit 1 if there is any."""
    if is_invocation_file(path):  # command_line,decision,… (issue 16)
        _check_invocations(path)
        return
    problems = check_labels(path)
    if problems:
        raise LabelsError(f"{path}: {len(problems)} problem(s)", problems)
    labels = read_labels(path)
    counts = Counter(lb.risk_level.name for lb in labels)
    splits = Counter(lb.split for lb in labels)
    console.print(
        f"{escape(str(path))}: OK, {len(labels)} labels "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())}); "
        f"split dev {splits['dev']} / test {splits['test']}; sha256 {labels.sha256[:12]}",
        highlight=False,
    )


def _check_invocations(path: Path) -> None:
    problems = check_invocation_labels(path)
    if problems:
        raise LabelsError(f"{path}: {len(problems)} problem(s)", problems)
    labels = read_invocation_labels(path)
    counts = Counter(lb.decision.value for lb in labels)
    splits = Counter(lb.split for lb in labels)
    console.print(
        f"{escape(str(path))}: OK, {len(labels)} invocation labels "
        f"({', '.join(f'{k} {v}' for k, v in counts.items())}); "
        f"split (by tool group) dev {splits['dev']} / test {splits['test']}; "
        f"sha256 {labels.sha256[:12]}",
        highlight=False,
    )


@app.command("agree")
def agree_cmd(
    a: Annotated[Path, typer.Argument(help="First labeler's labels.csv.", readable=False)],
    b: Annotated[Path, typer.Argument(help="Second labeler's labels.csv.", readable=False)],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Compare two labelers: counts, exact agreement, Cohen's κ, weighted κ, confusion matrix."""
    if is_invocation_file(a):
        rep_inv = invocation_agreement(read_invocation_labels(a), read_invocation_labels(b))
        if as_json:
            emit_json(rep_inv)
            return
        for key, value in rep_inv.items():
            if key != "disagreements":
                console.print(f"{key}: {value}", highlight=False)
        for d in rep_inv["disagreements"]:  # type: ignore[attr-defined]
            console.print(f"  {escape(d['command_line'])}: A={d['a']} B={d['b']}", highlight=False)
        return
    rep = agreement(read_labels(a), read_labels(b))
    if as_json:
        emit_json(rep.to_dict())
        return
    console.print(
        f"common commands: {rep.n_common}   only in A: {len(rep.only_a)}   "
        f"only in B: {len(rep.only_b)}\n"
        f"exact agreement: {rep.exact:.3f}   within one level: {rep.within_one:.3f}\n"
        f"Cohen's kappa: {rep.kappa:.3f}   quadratic-weighted kappa: {rep.kappa_quadratic:.3f}",
        highlight=False,
    )
    levels = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
    table = Table(title="confusion (rows: A, columns: B)")
    table.add_column("A \\ B")
    for lv in levels:
        table.add_column(lv, justify="right")
    for lv, row in zip(levels, rep.confusion, strict=True):
        table.add_row(lv, *(str(v) for v in row))
    console.print(table)
    for cmd, la, lb in rep.disagreements:
        console.print(f"  {escape(cmd)}: A={la} B={lb}", highlight=False)
