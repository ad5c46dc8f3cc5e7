"""Entry point: lazily assembled subcommands, one-line expected errors.

Agents call the CLI once per decision, so start-up time matters:

* The subcommands are listed in a static table (:data:`COMMANDS`: name, module, help line);
  only the module of the command named on the command line is imported, and ``tcplab --help``
  renders the table without importing any of them.
* The per-decision commands in their plain form (``descriptor decode HEX [--json]`` and
  ``registry lookup FILE TOOL [--json]``) run without typer at all (typer builds a pydantic
  adapter per parameter); any other form (``--help``, other options) goes through typer and
  gives the same output. ``TCPLAB_CLI_FAST=0`` turns the shortcut off.

``tests/cli/test_lazy_cli.py`` pins the table to the real commands and the two paths to each
other.
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Callable

from tcplab.errors import TcplabError, UsageError

TYPE_CHECKING = False  # not `typing`: start-up time is this module's job
if TYPE_CHECKING:
    from typing import Any

    import typer

    app: typer.Typer

__all__ = ["COMMANDS", "app", "load_command", "main"]


class _Entry:
    """One subcommand: its module under tcplab.cli, how it is registered, its help line.

    ``how``: ``app`` (``add_typer(module.app)``), ``register`` (``module.register(app)``),
    ``store`` (``register(app, with_runs=False)``) or ``runs`` (run.py's group plus the store's
    commands).
    """

    __slots__ = ("help", "how", "module")

    def __init__(self, module: str, how: str, help: str) -> None:
        self.module, self.how, self.help = module, how, help


COMMANDS: dict[str, _Entry] = {
    "quickstart": _Entry(
        "quickstart",
        "register",
        "Scan, generate the registry, run the quickstart experiment and summarise it.",
    ),
    "analyze": _Entry(
        "analyze", "register", "Print one assessment per tool (same documentation for every arm)."
    ),
    "train-embedding": _Entry(
        "embedding",
        "register",
        "Train the head on the DEV split and print what it was trained on.",
    ),
    "run": _Entry(
        "run", "register", "Run an experiment; prints the run id. Ctrl-C leaves it resumable."
    ),
    "report": _Entry(
        "report", "register", "Write report.html, report.md and summary.json for a run."
    ),
    "compare": _Entry(
        "report",
        "register",
        "Compare the same arm across two runs: latency ratio B/A and accuracy B - A.",
    ),
    "query": _Entry(
        "store",
        "store",
        "Runs joined with their per-tool per-arm results (read-only; filters are bound).",
    ),
    "sql": _Entry(
        "store", "store", "Read-only DuckDB SQL over a run's raw Parquet trials (view `trials`)."
    ),
    "corpus": _Entry("corpus", "app", "Collect tool documentation (man pages) into a corpus."),
    "descriptor": _Entry(
        "descriptor", "app", "Encode, decode and validate 24-byte TCP v2 descriptors."
    ),
    "registry": _Entry("registry", "app", "Build and query descriptor registries (.tcpdb)."),
    "descriptors": _Entry(
        "descriptors",
        "app",
        "Generate descriptors from documentation; evaluate them against labels.",
    ),
    "labels": _Entry("labels", "app", "Ground-truth label files (labels.csv)."),
    "runs": _Entry("run", "runs", "List and inspect experiment runs."),
    "db": _Entry("store", "store", "The SQL result store's schema (Alembic migrations)."),
    "serve": _Entry("service", "register", "Run the experiment service's HTTP API (uvicorn)."),
    "worker": _Entry("service", "register", "Run jobs from the queue until SIGTERM."),
    "submit": _Entry(
        "service", "register", "Submit an experiment to the service; prints the job id."
    ),
    "jobs": _Entry(
        "service", "register", "List, show, cancel and retry jobs of the experiment service."
    ),
    "token": _Entry(
        "service", "register", "Create, list and revoke API tokens (in the service database)."
    ),
    "check": _Entry(
        "check",
        "register",
        "Decide a command line: exit 0 APPROVE, 10 CAUTION, 20 REQUIRE_APPROVAL, 30 REJECT.",
    ),
    "hook": _Entry(
        "check", "register", "Answer an agent's pre-tool hook on stdin (Claude Code PreToolUse)."
    ),
    "monitor": _Entry(
        "monitor",
        "register",
        "Show the host's resources and the running runs, refreshed live (Ctrl-C to stop).",
    ),
    "kube": _Entry("kube", "app", "Kubernetes: the command the experiment pods run."),
    "deploy": _Entry(
        "deploy",
        "app",
        "Deploy the platform: Kubernetes manifests (plan/apply/verify/destroy) and Terraform.",
    ),
}


def _register(name: str, entry: _Entry, target: Any) -> None:
    module: Any = importlib.import_module(f"tcplab.cli.{entry.module}")
    if entry.how == "app":
        target.add_typer(module.app, name=name)
    elif entry.how == "register":
        module.register(target)
    elif entry.how == "store":
        module.register(target, with_runs=False)
    elif entry.how == "runs":  # `runs` is run.py's group plus the store's sync/push/fetch
        store: Any = importlib.import_module("tcplab.cli.store")
        if not getattr(module.runs_app, "_tcplab_store_commands", False):
            store.register_runs_commands(module.runs_app)
            module.runs_app._tcplab_store_commands = True
        module.register(target)
    else:  # pragma: no cover - the table is static
        raise AssertionError(entry.how)


def load_command(name: str) -> Any:
    """Import the module of one subcommand and return its click command (None if unknown)."""
    import typer

    entry = COMMANDS.get(name)
    if entry is None:
        return None
    holder = typer.Typer()
    _register(name, entry, holder)
    return typer.main.get_group(holder).commands.get(name)


_STATE: dict[str, Any] = {"debug": False, "app": None}


def _build_app() -> Any:
    """The root Typer app (built on first use; the fast path never builds it)."""
    import typer
    from typer.core import TyperCommand, TyperGroup

    class LazyGroup(TyperGroup):
        """The root group: lists :data:`COMMANDS` from the table, imports one only to run it."""

        def list_commands(self, ctx: Any) -> list[str]:
            return [*COMMANDS, *(n for n in self.commands if n not in COMMANDS)]

        def get_command(self, ctx: Any, cmd_name: str) -> Any:
            cmd = self.commands.get(cmd_name)
            if cmd is not None or cmd_name not in COMMANDS:
                return cmd
            # A stand-in carrying the help line, so listing commands imports nothing.
            return TyperCommand(cmd_name, help=COMMANDS[cmd_name].help)

        def resolve_command(self, ctx: Any, args: list[str]) -> Any:
            name = args[0] if args else ""
            if name in COMMANDS and name not in self.commands:
                self.commands[name] = load_command(name)
            elif name not in self.commands and not name.startswith("-"):
                import difflib

                close = difflib.get_close_matches(name, self.list_commands(ctx))
                hint = f" Did you mean {', '.join(repr(m) for m in close)}?" if close else ""
                ctx.fail(f"No such command {name!r}.{hint}")
            return super().resolve_command(ctx, args)

    root = typer.Typer(
        name="tcplab",
        cls=LazyGroup,
        help=_ROOT_HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @root.callback()
    def _root(
        debug: bool = typer.Option(False, "--debug", help=_ROOT_OPTIONS["--debug"]),
        version: bool = typer.Option(
            False,
            "--version",
            help=_ROOT_OPTIONS["--version"],
            is_eager=True,
            callback=_version_option,
        ),
    ) -> None:
        if debug:
            _STATE["debug"] = True

    return root


def __getattr__(name: str) -> Any:
    """``app``: the root Typer app, built on first use (PEP 562)."""
    if name == "app":
        if _STATE["app"] is None:
            _STATE["app"] = _build_app()
        return _STATE["app"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _debug() -> bool:
    env = os.environ.get("TCPLAB_DEBUG", "").strip().lower()
    return bool(_STATE["debug"]) or env in {"1", "true", "yes"}


def _fast_decode(pos: list[str], as_json: bool) -> int:
    from tcplab.cli._console import print_record
    from tcplab.descriptor.reports import decode_report

    report = decode_report(pos[0])
    print_record(report, as_json)
    return 0 if report["valid"] else 1


def _fast_lookup(pos: list[str], as_json: bool) -> int:
    from tcplab.cli._console import print_record
    from tcplab.registry.reports import lookup_report

    report = lookup_report(pos[0], pos[1])
    print_record(report, as_json)
    return 0 if report["valid"] else 1


# (group, command) -> (positional argument count, implementation)
_FAST: dict[tuple[str, str], tuple[int, Callable[[list[str], bool], int]]] = {
    ("descriptor", "decode"): (1, _fast_decode),
    ("registry", "lookup"): (2, _fast_lookup),
}


_ROOT_HELP = "Honest experiments on the Tool Capability Protocol (TCP)."
_ROOT_OPTIONS = {
    "--debug": "Show tracebacks of expected errors (or TCPLAB_DEBUG=1).",
    "--help": "Show this message and exit.",
    "--version": "Print the installed tcplab version and exit.",
}


def _fast_version() -> int:
    """``tcplab --version``: the installed distribution's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("tcplab")
    except PackageNotFoundError:  # a source tree without install
        v = "0+unknown"
    sys.stdout.write(f"tcplab {v}\n")
    return 0


def _version_option(value: bool) -> None:
    """The typer path's ``--version`` (eager: runs before a command is required)."""
    if value:
        import typer

        raise typer.Exit(_fast_version())


def _fast_help() -> int:
    """``tcplab --help`` from the table, in typer's layout, without importing typer."""
    from rich.console import Group
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    from tcplab.cli._console import console

    def panel(title: str, rows: dict[str, str], width: int) -> Panel:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column(style="bold cyan", no_wrap=True, width=width)
        table.add_column(ratio=10)
        for name, text in rows.items():
            table.add_row(Text(name), Text(text))
        return Panel(table, title=title, title_align="left", border_style="dim")

    usage = Text.assemble(("Usage: ", "yellow"), ("tcplab [OPTIONS] COMMAND [ARGS]...", "bold"))
    width = max(len(name) for name in [*COMMANDS, *_ROOT_OPTIONS])
    body = Group(
        Padding(usage, 1),
        Padding(Text(_ROOT_HELP), (0, 1, 1, 1)),
        panel("Options", _ROOT_OPTIONS, width),
        panel("Commands", {name: entry.help for name, entry in COMMANDS.items()}, width),
    )
    console.print(body, highlight=False, emoji=False)
    return 0


def _fast_path(args: list[str]) -> Callable[[], int] | None:
    """The typer-free runner for ``--help`` or a plain per-decision command line, else None."""
    if os.environ.get("TCPLAB_CLI_FAST", "").strip() == "0":
        return None
    if args == ["--help"]:
        return _fast_help
    if args == ["--version"]:
        return _fast_version
    if args == ["hook", "claude-code"]:  # once per agent tool call: no typer
        from tcplab.cli._hook import hook_main

        return lambda: hook_main("claude-code")
    if len(args) < 3:
        return None
    spec = _FAST.get((args[0], args[1]))
    if spec is None:
        return None
    rest = args[2:]
    options = [a for a in rest if a.startswith("-")]
    positional = [a for a in rest if not a.startswith("-")]
    if len(positional) != spec[0] or options not in ([], ["--json"]):
        return None  # --help, typos, extra arguments...: typer handles (and explains) them
    return lambda: spec[1](positional, bool(options))


def _run_typer() -> int:
    import typer

    try:
        rc = __getattr__("app")(standalone_mode=False)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        return 1
    except (TcplabError, OSError):
        raise
    except Exception as exc:  # click usage errors arrive here in non-standalone mode
        fmt, code = getattr(exc, "format_message", None), getattr(exc, "exit_code", None)
        if callable(fmt) and isinstance(code, int):  # a (vendored) click.ClickException
            _print_error(_click_message(exc, str(fmt())))
            return code
        raise
    return rc if isinstance(rc, int) else 0


_OUTPUT_ERRNOS = {errno.EPIPE, errno.ENOSPC, errno.EIO, errno.EBADF, errno.EFBIG, errno.EDQUOT}


class _ClosedStream:
    """Stands in for a closed stdout/stderr: writing raises one clean OSError."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, name: str) -> None:
        self.name = name

    def write(self, _text: str) -> int:
        raise OSError(errno.EBADF, f"{self.name} is closed")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _guard_stdio() -> None:
    if sys.stdout is None:
        sys.stdout = _ClosedStream("stdout")
    if sys.stderr is None:
        sys.stderr = _ClosedStream("stderr")


def _silence_stdout() -> None:
    """After a failed write, point fd 1 at /dev/null so the exit-time flush cannot fail."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, sys.stdout.fileno())
        os.close(fd)
    except (OSError, ValueError, AttributeError):
        pass


def _non_utf8_argument(args: list[str]) -> str | None:
    for i, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raw = arg.encode("utf-8", "surrogateescape")
            return f"argument {i} is not valid UTF-8: {raw!r}"
    return None


def _click_message(exc: BaseException, message: str) -> str:
    """A click usage error as one line, with the help command to run next."""
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "tcplab"
    one_line = " ".join(message.split())
    return f"{one_line} (see `{path} --help`)" if getattr(exc, "ctx", None) else one_line


def _print_error(message: str, problems: Any = ()) -> None:
    from tcplab.cli._console import print_error

    print_error(message, problems)


def _expected_error(exc: TcplabError) -> int:
    if _debug():
        import traceback

        traceback.print_exception(exc)
    _print_error(str(exc), getattr(exc, "problems", ()))
    return 2 if isinstance(exc, UsageError) else 1


def _output_error(exc: OSError) -> int:
    _silence_stdout()
    reason = exc.strerror or str(exc)
    _print_error(f"cannot write output: {reason}")
    return 1


def _invoke(run: Callable[[], int]) -> int:
    """Run a command; expected errors print one line. Returns the exit code."""
    try:
        rc = run()
        sys.stdout.flush()
    except TcplabError as exc:
        return _expected_error(exc)
    except KeyboardInterrupt:
        _print_error("interrupted")
        return 130
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        return _output_error(exc)
    return rc


def main() -> None:
    """Run the CLI; expected errors print one line and exit 1 (usage errors exit 2).

    Unexpected exceptions (bugs) keep their traceback; ``--debug`` or ``TCPLAB_DEBUG=1`` shows
    the traceback of expected errors too. Write errors on stdout (closed pipe, full disk,
    closed descriptor) are one line as well.
    """
    _guard_stdio()
    bad = _non_utf8_argument(sys.argv[1:])
    if bad is not None:
        _print_error(bad)
        sys.exit(2)
    code = _invoke(_fast_path(sys.argv[1:]) or _run_typer)
    try:
        sys.stdout.flush()
    except OSError as exc:  # output an expected error left buffered
        code = _output_error(exc) if code == 0 else code
        _silence_stdout()
    sys.exit(code)
