"""``tcplab deploy``: the platform on Kubernetes (plan, apply, verify, destroy) and its
infrastructure as Terraform (``tcplab deploy terraform ...``, in :mod:`tcplab.cli.terraform`)."""

from __future__ import annotations

import typer

from tcplab.cli import terraform

__all__ = ["app"]

app = typer.Typer(
    help="Deploy the platform: Kubernetes manifests (plan/apply/verify/destroy) and Terraform.",
    no_args_is_help=True,
)
app.add_typer(terraform.app, name="terraform")
