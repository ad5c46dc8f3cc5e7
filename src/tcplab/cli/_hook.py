"""``tcplab hook claude-code`` without typer: agents call it once per tool call, so start-up
time matters (``cli/main.py`` runs it on its fast path; ``tcplab hook --help`` goes through
typer as usual)."""

from __future__ import annotations

import sys

from tcplab.errors import UsageError

__all__ = ["hook_main"]


def hook_main(agent: str) -> int:
    """Read one hook event on stdin, write the answer as one JSON object; always exit 0."""
    import json

    from tcplab.check import hook_answer

    if agent != "claude-code":
        raise UsageError(f"unknown agent {agent!r}; known: claude-code")
    try:
        if sys.stdin is None:
            raise OSError("standard input is closed")
        text = sys.stdin.buffer.read().decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        text = f"<unreadable stdin: {exc}>"  # not JSON: the answer is `ask`
    sys.stdout.write(json.dumps(hook_answer(text)) + "\n")
    return 0
