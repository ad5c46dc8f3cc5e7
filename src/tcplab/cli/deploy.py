"""``tcplab deploy``: the platform on Kubernetes (plan, apply, verify, destroy) and its
infrastructure as Terraform (``tcplab deploy terraform ...``, in :mod:`tcplab.cli.terraform`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tcplab.cli import terraform
from tcplab.errors import TcplabError

if TYPE_CHECKING:
    from tcplab.kube import CheckResult, Kubectl, Rendered

__all__ = ["app"]

app = typer.Typer(
    help="Deploy the platform: Kubernetes manifests (plan/apply/verify/destroy) and Terraform.",
    no_args_is_help=True,
)
app.add_typer(terraform.app, name="terraform")

_Overlay = Annotated[
    str, typer.Option("--overlay", help="deploy/kubernetes/overlays/NAME (dev, prod, a region).")
]
_Context = Annotated[str | None, typer.Option("--context", help="kubeconfig context.")]
_Kubeconfig = Annotated[
    Path | None, typer.Option("--kubeconfig", help="kubeconfig file (default: kubectl's).")
]
_Manifests = Annotated[
    Path | None,
    typer.Option("--manifests", help="The manifests folder (default: the ones tcplab ships)."),
]
_Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]
_Url = Annotated[str | None, typer.Option("--url", help="The API's URL (Ingress or port-forward).")]
_Token = Annotated[str | None, typer.Option("--token", help="API token (submitter).")]
_InstallCrds = Annotated[
    bool,
    typer.Option("--install-crds", help="Apply the shipped minimal CRDs where one is missing."),
]


def _setup(
    overlay: str, context: str | None, kubeconfig: Path | None, manifests: Path | None
) -> tuple[Kubectl, Rendered, Path]:
    from tcplab.kube import Kubectl, manifests_root, render_overlay

    root = manifests_root(manifests)
    kubectl = Kubectl(str(kubeconfig) if kubeconfig else None, context)
    return kubectl, render_overlay(kubectl, root, overlay), root


def _report(results: list[CheckResult], as_json: bool, failure: str) -> None:
    """Print the checks (--json: on stdout; else on stderr, one line each); when an ``error``
    check failed, raise ``failure`` naming them, with every check as one problem line under
    the ``error:`` line (the first line of a failure is the error, as for every command)."""
    from tcplab.cli._console import emit_json, print_data

    failed = [r.name for r in results if not r.ok and r.severity != "warning"]
    if as_json:
        emit_json([r.model_dump() for r in results])
    elif not failed:
        for r in results:
            print_data(r.line(), err=True)
    if failed:
        problems = [] if as_json else [r.line() for r in results]
        raise _ChecksFailed(f"{failure}: {', '.join(failed)}", problems)


class _ChecksFailed(TcplabError):
    """An ``error`` check failed: one line naming it, then every check as a problem line."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = tuple(problems)


def _prerequisites(
    kubectl: Kubectl, rendered: Rendered, root: Path, install_crds: bool
) -> list[CheckResult]:
    """Run and print (stderr, one line each) the checks; raise when an error check failed."""
    from tcplab.kube import run_prerequisites

    results = run_prerequisites(kubectl, rendered, root, install_crds)
    _report(results, as_json=False, failure="a prerequisite check failed")
    return results


@app.command("plan")
def plan_cmd(
    overlay: _Overlay,
    context: _Context = None,
    kubeconfig: _Kubeconfig = None,
    manifests: _Manifests = None,
    install_crds: _InstallCrds = False,
    as_json: _Json = False,
) -> None:
    """Check the prerequisites and print the server-side diff against the live cluster.

    Exit status: 0 nothing would change, 2 changes, 1 an error. The checks go to stderr
    (one line each); --json prints the plan with the check records."""
    from tcplab.cli._console import emit_json, print_data
    from tcplab.kube import plan_overlay

    kubectl, rendered, root = _setup(overlay, context, kubeconfig, manifests)
    checks = _prerequisites(kubectl, rendered, root, install_crds)
    plan = plan_overlay(kubectl, rendered)
    if as_json:
        emit_json({**plan.model_dump(), "checks": [c.model_dump() for c in checks]})
    elif not plan.namespace_exists:
        print_data(
            f"namespace {plan.namespace} does not exist: {len(plan.new_objects)} new objects"
        )
        for obj in plan.new_objects:
            print_data(f"+ {obj}")
    elif plan.changed:
        print_data(plan.diff.rstrip("\n"))
    else:
        print_data(f"overlay {overlay}: no changes")
    if plan.changed:
        raise typer.Exit(2)


@app.command("apply")
def apply_cmd(
    overlay: _Overlay,
    context: _Context = None,
    kubeconfig: _Kubeconfig = None,
    manifests: _Manifests = None,
    install_crds: _InstallCrds = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds for all rollouts together.")
    ] = 600,
    verify: Annotated[
        bool, typer.Option("--verify", help="Then run the smoke test (as `verify`).")
    ] = False,
    url: _Url = None,
    token: _Token = None,
) -> None:
    """Check, server-side apply (field manager tcplab-deploy), wait for the rollouts, and with
    --verify run the smoke test."""
    from tcplab.cli._console import print_data
    from tcplab.kube import apply_overlay, wait_rollouts

    kubectl, rendered, root = _setup(overlay, context, kubeconfig, manifests)
    _prerequisites(kubectl, rendered, root, install_crds)
    for line in apply_overlay(kubectl, rendered):
        print_data(line)
    took = wait_rollouts(kubectl, rendered, timeout, lambda line: print_data(line, err=True))
    for name, seconds in took.items():
        print_data(f"deployment/{name} rolled out in {seconds:.1f} s")
    if verify:
        _smoke(kubectl, rendered, url, token, 300, as_json=False)


def _smoke(
    kubectl: Kubectl,
    rendered: Rendered,
    url: str | None,
    token: str | None,
    timeout: float,
    as_json: bool,
) -> None:
    from tcplab.kube import smoke

    url = url or os.environ.get("TCPLAB_API_URL")
    token = token or os.environ.get("TCPLAB_API_TOKEN")
    failure = f"overlay {rendered.overlay}: the smoke test failed"
    _report(smoke(kubectl, rendered, url, token, timeout), as_json, failure)


@app.command("verify")
def verify_cmd(
    overlay: _Overlay,
    context: _Context = None,
    kubeconfig: _Kubeconfig = None,
    manifests: _Manifests = None,
    url: _Url = None,
    token: _Token = None,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds for the smoke experiment.")
    ] = 300,
    as_json: _Json = False,
) -> None:
    """Smoke test: Deployments available, the API ready, a tiny experiment completed."""
    kubectl, rendered, _ = _setup(overlay, context, kubeconfig, manifests)
    _smoke(kubectl, rendered, url, token, timeout, as_json)


@app.command("destroy")
def destroy_cmd(
    overlay: _Overlay,
    context: _Context = None,
    kubeconfig: _Kubeconfig = None,
    manifests: _Manifests = None,
    delete_data: Annotated[
        bool, typer.Option("--delete-data", help="Also delete the runs volume and namespace.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete the overlay's objects (the runs volume and namespace only with --delete-data)."""
    from tcplab.cli._console import print_data
    from tcplab.errors import UsageError
    from tcplab.kube import destroy_overlay

    kubectl, rendered, _ = _setup(overlay, context, kubeconfig, manifests)
    if not yes:
        raise UsageError(
            f"destroy deletes overlay {overlay} from namespace {rendered.namespace}: "
            "pass --yes to confirm"
        )
    for line in destroy_overlay(kubectl, rendered, delete_data=delete_data):
        print_data(line)
