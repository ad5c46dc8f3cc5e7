"""``tcplab kube``: what runs inside the pods of the ``kubernetes`` backend.

``tcplab kube run-group --task FILE`` runs one shard group (the pod's completion index,
``JOB_COMPLETION_INDEX``) of a job's run; the spec comes by reference (the task file mounted
from the job's ConfigMap), never on the command line.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer

from tcplab.cli._console import console
from tcplab.errors import UsageError

__all__ = ["app"]

app = typer.Typer(help="Kubernetes: the command the experiment pods run.", no_args_is_help=True)


@app.command("run-group")
def run_group_cmd(
    task: Annotated[Path, typer.Option("--task", help="The task file (task.json).")],
    index: Annotated[
        int | None,
        typer.Option("--index", help="Shard group (default: $JOB_COMPLETION_INDEX, else 0)."),
    ] = None,
) -> None:
    """Run one shard group of a job's run; prints how many shards it wrote."""
    from tcplab.kube import read_task, run_group

    if index is None:
        raw = os.environ.get("JOB_COMPLETION_INDEX", "0")
        if not raw.isdigit():
            raise UsageError(f"JOB_COMPLETION_INDEX={raw!r} is not a completion index")
        index = int(raw)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    written = run_group(read_task(task), index)
    console.print(f"group {index}: wrote {len(written)} shard(s)")
