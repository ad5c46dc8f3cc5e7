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

__all__ = ["EXIT_CODES", "check_main", "hook_main", "register", "score_main"]

EXIT_CODES = {"APPROVE": 0, "CAUTION": 10, "REQUIRE_APPROVAL": 20, "REJECT": 30}


def check_main(
    words: list[str],
    as_json: bool,
    registry: Path | None,
    explain: bool = False,
    cwd: Path | None = None,
) -> int:
    """Check one line (one word = the line itself; several = an argv, quoted back); with
    ``cwd``, git commands are also judged by the repository there."""
    from tcplab.check import check, explain_rule
    from tcplab.cli._console import emit_json, print_data

    if not words:
        raise UsageError("give a command line: tcplab check -- CMD ARGS… or tcplab check 'CMD'")
    line = words[0] if len(words) == 1 else shlex.join(words)
    if cwd is not None and not cwd.is_dir():
        raise UsageError(f"--cwd {cwd}: not a directory")
    result = check(line, registry=registry, cwd=cwd)
    nodes = [explain_rule(r.rule, registry, r.source) for r in result.reasons] if explain else []
    if as_json:
        data = result.model_dump()
        if explain:
            data["explain"] = nodes
        emit_json(data)
    else:
        print_data(f"{result.decision} ({result.risk_level})", line)
        if result.capabilities:
            print_data("capabilities:", ", ".join(result.capabilities))
        for i, r in enumerate(result.reasons):
            print_data(f"  {r.risk_level:<12} {r.source}:{r.rule}  {r.segment!r}  {r.detail}")
            if explain and nodes[i] is not None:
                node = nodes[i]
                assert node is not None
                print_data(f"      node {' > '.join(node['path'])}  from {node['source']}")
    return EXIT_CODES[result.decision]


def score_main(labels: Path, split: str, registry: Path | None, details: bool) -> int:
    """Score the check on an invocation labels file (``--labels FILE --split dev|test|all``)."""
    from tcplab.check import score_labels
    from tcplab.cli._console import emit_json
    from tcplab.labels import read_invocation_labels

    if split not in ("dev", "test", "all"):
        raise UsageError(f"--split must be dev, test or all (got {split!r})")
    label_set = read_invocation_labels(labels)
    rows = label_set.subset(None if split == "all" else split)  # type: ignore[arg-type]
    result = score_labels(rows, registry, details=details)
    emit_json({"labels": str(labels), "sha256": label_set.sha256, "split": split, **result})
    return 0


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
        explain: Annotated[
            bool, typer.Option("--explain", help="Show each reason's node and where it came from.")
        ] = False,
        build: Annotated[
            Path | None,
            typer.Option("--build-registry", help="Write a v3 registry: knowledge + --registry."),
        ] = None,
        labels: Annotated[
            Path | None, typer.Option("--labels", help="Score on an invocation labels file.")
        ] = None,
        split: Annotated[str, typer.Option("--split", help="dev, test or all.")] = "dev",
        details: Annotated[bool, typer.Option(help="List the mistakes with --labels.")] = True,
        cwd: Annotated[
            Path | None,
            typer.Option(
                "--cwd",
                help="The directory the line runs in: git commands are also judged by the "
                "repository there (config that runs programs, hooks).",
            ),
        ] = None,
    ) -> None:
        """Decide a command line: exit 0 APPROVE, 10 CAUTION, 20 REQUIRE_APPROVAL, 30 REJECT."""
        if build is not None:
            from tcplab.check import build_registry
            from tcplab.cli._console import print_data

            print_data(f"{build}: {build_registry(build, registry)} nodes (v3 registry)")
            raise typer.Exit(0)
        if labels is not None:
            raise typer.Exit(score_main(labels, split, registry, details))
        if serve:
            from tcplab.check import serve as serve_loop

            if words:
                raise UsageError("--serve reads the lines on stdin; give no command line")
            if sys.stdin is None:
                raise TcplabError("--serve reads JSON lines on standard input, which is closed")
            raise typer.Exit(serve_loop(sys.stdin.buffer, sys.stdout))
        raise typer.Exit(check_main(words or [], as_json, registry, explain, cwd))

    @app.command("hook")
    def hook_cmd(
        agent: Annotated[str, typer.Argument(help="The agent: claude-code.")],
    ) -> None:
        """Answer an agent's pre-tool hook on stdin (Claude Code PreToolUse)."""
        raise typer.Exit(hook_main(agent))
