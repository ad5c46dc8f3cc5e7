"""``tcplab check`` (one line, or ``--serve`` JSON lines) and ``tcplab hook claude-code``.

Exit status of ``tcplab check``: 0 APPROVE, 10 CAUTION, 20 REQUIRE_APPROVAL, 30 REJECT; 1 an
error (missing extra, unreadable registry), 2 a usage error. ``--serve`` and the hook exit 0.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from tcplab.cli._hook import hook_main
from tcplab.errors import TcplabError, UsageError

__all__ = ["EXIT_CODES", "check_main", "hook_main", "register"]

EXIT_CODES = {"APPROVE": 0, "CAUTION": 10, "REQUIRE_APPROVAL": 20, "REJECT": 30}


def check_main(words: list[str], as_json: bool, registry: Path | None) -> int:
    """Check one line (one word = the line itself; several = an argv, quoted back)."""
    from tcplab.check import check
    from tcplab.cli._console import emit_json, print_data

    if not words:
        raise UsageError("give a command line: tcplab check -- CMD ARGS… or tcplab check 'CMD'")
    line = words[0] if len(words) == 1 else shlex.join(words)
    result = check(line, registry=registry)
    if as_json:
        emit_json(result.model_dump())
    else:
        print_data(f"{result.decision} ({result.risk_level})", line)
        if result.capabilities:
            print_data("capabilities:", ", ".join(result.capabilities))
        for r in result.reasons:
            print_data(f"  {r.risk_level:<12} {r.source}:{r.rule}  {r.segment!r}  {r.detail}")
    return EXIT_CODES[result.decision]


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``hook`` to ``app``."""

    @app.command("check", context_settings={"ignore_unknown_options": True})
    def check_cmd(
        words: Annotated[
            list[str] | None, typer.Argument(help="The command line (after --), or one string.")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        serve: Annotated[
            bool, typer.Option("--serve", help="JSON lines in ({'command': …}), JSON lines out.")
        ] = False,
        registry: Annotated[
            Path | None,
            typer.Option("--registry", help="Registry (default TCPLAB_HOME/registry/tools.tcpdb)."),
        ] = None,
    ) -> None:
        """Decide a command line: exit 0 APPROVE, 10 CAUTION, 20 REQUIRE_APPROVAL, 30 REJECT."""
        if serve:
            from tcplab.check import serve as serve_loop

            if words:
                raise UsageError("--serve reads the lines on stdin; give no command line")
            if sys.stdin is None:
                raise TcplabError("--serve reads JSON lines on standard input, which is closed")
            raise typer.Exit(serve_loop(sys.stdin.buffer, sys.stdout))
        raise typer.Exit(check_main(words or [], as_json, registry))

    @app.command("hook")
    def hook_cmd(
        agent: Annotated[str, typer.Argument(help="The agent: claude-code.")],
    ) -> None:
        """Answer an agent's pre-tool hook on stdin (Claude Code PreToolUse)."""
        raise typer.Exit(hook_main(agent))
