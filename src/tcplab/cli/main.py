"""Entry point: assembles the subcommand groups and renders expected errors in one line."""

from __future__ import annotations

import sys

import typer

from tcplab.cli import analyze as analyze_cli
from tcplab.cli import corpus as corpus_cli
from tcplab.cli import descriptor as descriptor_cli
from tcplab.cli import descriptors as descriptors_cli
from tcplab.cli import embedding as embedding_cli
from tcplab.cli import labels as labels_cli
from tcplab.cli import quickstart as quickstart_cli
from tcplab.cli import registry as registry_cli
from tcplab.cli import report as report_cli
from tcplab.cli import run as run_cli
from tcplab.cli import store as store_cli
from tcplab.cli._console import err_console
from tcplab.errors import TcplabError, UsageError

__all__ = ["app", "main"]

app = typer.Typer(
    name="tcplab",
    help="Honest experiments on the Tool Capability Protocol (TCP).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(corpus_cli.app, name="corpus")
app.add_typer(descriptor_cli.app, name="descriptor")
app.add_typer(registry_cli.app, name="registry")
app.add_typer(descriptors_cli.app, name="descriptors")
app.add_typer(labels_cli.app, name="labels")
quickstart_cli.register(app)
analyze_cli.register(app)
embedding_cli.register(app)
run_cli.register(app)
report_cli.register(app)
store_cli.register(app, with_runs=False)
store_cli.register_runs_commands(run_cli.runs_app)


def main() -> None:
    """Run the CLI; expected errors print one line and exit 1 (usage errors exit 2)."""
    try:
        rc = app(standalone_mode=False)
    except TcplabError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        problems = getattr(exc, "problems", ())
        for problem in problems:
            err_console.print(f"  - {problem}", highlight=False, soft_wrap=True)
        sys.exit(2 if isinstance(exc, UsageError) else 1)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):  # a (vendored) click.ClickException
            show()
            sys.exit(code)
        raise
    sys.exit(rc if isinstance(rc, int) else 0)
