"""``tcplab deploy terraform``: typed multi-region configuration rendered as Terraform JSON."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(
    help="Multi-region infrastructure: validate deploy/regions.yaml, render Terraform JSON.",
    no_args_is_help=True,
)
