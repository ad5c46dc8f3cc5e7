"""``tcplab deploy terraform``: typed multi-region configuration rendered as Terraform JSON."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from tcplab.cli._console import emit_json, print_data, print_kv
from tcplab.errors import ConfigError

__all__ = ["app"]

app = typer.Typer(
    help="Multi-region infrastructure: validate deploy/regions.yaml, render Terraform JSON.",
    no_args_is_help=True,
)

ConfigOpt = Annotated[
    Path, typer.Option("--config", "-c", help="The typed configuration (deploy/regions.yaml).")
]
BASELINE = Path("deploy/terraform/checkov-baseline.yaml")


def _render_checked(config: Path, out: Path, force: bool) -> dict[str, Any]:
    from tcplab.infra import load_config, render, run_checks, write_rendered

    rendered = render(load_config(config))
    files = write_rendered(rendered, out, force=force)
    problems = run_checks(out)
    if problems:
        raise _Failed("the rendered Terraform fails the offline checks", problems)
    resources = sum(len(v) for m in rendered.modules.values() for v in m.resources.values())
    return {
        "config": str(config),
        "out": str(out),
        "modules": list(rendered.modules),
        "files": len(files),
        "resources": resources,
        "offline_checks": "passed",
    }


class _Failed(ConfigError):
    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(f"{message} ({len(problems)} problem(s))")
        self.problems = tuple(problems)


def _show(summary: dict[str, Any], as_json: bool) -> None:
    if as_json:
        emit_json(summary)
        return
    for key, value in summary.items():
        print_kv(key, ", ".join(value) if isinstance(value, list) else value)


@app.command("render")
def render_cmd(
    config: ConfigOpt = Path("deploy/regions.yaml"),
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "build/terraform"
    ),
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate the configuration and write one Terraform JSON root module per region plus
    global/ (and tcplab-terraform.json), then run the offline checks on what was written."""
    _show(_render_checked(config, out, force), as_json)


@app.command("validate")
def validate_cmd(
    config: ConfigOpt = Path("deploy/regions.yaml"),
    checkov: Annotated[
        bool, typer.Option("--checkov", help="Also scan with checkov (TCPLAB_CHECKOV or PATH).")
    ] = False,
    baseline: Annotated[
        Path, typer.Option("--baseline", help="Accepted checkov findings with their reasons.")
    ] = BASELINE,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Validate the configuration, render it into a temporary directory and run the offline
    checks (references, CIDRs of peered networks, node labels, DNS routes, open ingress)."""
    with tempfile.TemporaryDirectory(prefix="tcplab-tf-") as tmp:
        summary = _render_checked(config, Path(tmp) / "out", False)
        summary.pop("out")
        if checkov:
            from tcplab.infra import load_baseline, run_checkov

            report = run_checkov(Path(tmp) / "out", load_baseline(baseline))
            if report.unexplained:
                problems = [f"{c} {r} {f}" for c, r, f in report.unexplained]
                raise _Failed("checkov: failed checks not in the baseline", problems)
            summary["checkov"] = (
                f"{report.version}: {report.passed} passed, {len(report.failed)} failed"
                f" (all accepted in {baseline})"
            )
    _show(summary, as_json)
    if not as_json:
        print_data("ok")
