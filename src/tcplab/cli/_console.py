"""Shared rich consoles and output helpers for the CLI.

Data is never rendered as Rich markup: a tool name, a file name, an SQL value or an error message
may contain ``[red]`` or ``[/x]``, which markup would hide or choke on. Use :func:`print_data`
(plain text, no markup, no emoji codes, no highlighting), :func:`print_kv` (a bold key and a
plain value), :func:`print_error` (one ``error:`` line), or :func:`esc` to embed a value in a
markup string you write yourself.

Importing this module does not import rich; ``console`` and ``err_console`` are created on first
use, so the light commands that only print JSON stay fast.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

    from rich.console import Console

    console: Console
    err_console: Console

__all__ = [
    "console",
    "emit_json",
    "err_console",
    "esc",
    "print_data",
    "print_error",
    "print_kv",
    "print_record",
]

_consoles: dict[str, Any] = {}


def _console(name: str) -> Console:
    found = _consoles.get(name)
    if found is None:
        from rich.console import Console

        found = Console(stderr=name == "err_console", soft_wrap=True)
        _consoles[name] = found
    console: Console = found
    return console


def __getattr__(name: str) -> Any:
    """``console`` and ``err_console``, created on first use (PEP 562)."""
    if name in ("console", "err_console"):
        return _console(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def esc(value: object) -> str:
    """``str(value)`` escaped for embedding in Rich markup (``[`` cannot open a tag)."""
    from rich.markup import escape

    return escape(str(value))


def _styled(stream_name: str) -> bool:
    """Whether to render through rich (colours): only when the stream is a terminal.

    Otherwise the plain line is written directly, which is what rich would write for a
    non-terminal, without importing rich (the per-decision commands stay fast).
    """
    stream = getattr(sys, stream_name, None)
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def _write_plain(stream_name: str, line: str) -> None:
    stream = getattr(sys, stream_name)
    stream.write(line + "\n")


def print_data(*values: object, sep: str = " ", err: bool = False) -> None:
    """Print values as plain text: no markup, no emoji codes, no highlighting."""
    line = sep.join(str(v) for v in values)
    name = "stderr" if err else "stdout"
    if not _styled(name):
        _write_plain(name, line)
        return
    from rich.text import Text

    target = _console("err_console" if err else "console")
    target.print(Text(line), highlight=False, emoji=False)


def print_kv(key: str, value: object, width: int = 15) -> None:
    """Print ``key: value`` with a bold, right-aligned key; the value is plain data."""
    if not _styled("stdout"):
        _write_plain("stdout", f"{key:>{width}}: {value}")
        return
    from rich.text import Text

    line = Text.assemble((f"{key:>{width}}", "bold"), ": ", str(value))
    _console("console").print(line, highlight=False, emoji=False)


def print_error(message: str, problems: Iterable[object] = ()) -> None:
    """One ``error: MESSAGE`` line on stderr (plus one ``  - problem`` line per problem)."""
    if not _styled("stderr"):
        _write_plain("stderr", f"error: {message}")
        for problem in problems:
            _write_plain("stderr", f"  - {problem}")
        return
    from rich.text import Text

    target = _console("err_console")
    target.print(Text.assemble(("error:", "bold red"), " ", message), highlight=False, emoji=False)
    for problem in problems:
        target.print(Text(f"  - {problem}"), highlight=False, emoji=False)


def print_record(record: dict[str, Any], as_json: bool, width: int = 15) -> None:
    """One JSON object, or one ``key: value`` line per field (values are plain data)."""
    if as_json:
        emit_json(record)
    else:
        for key, value in record.items():
            print_kv(key, value, width)


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout (plain, machine-readable, no rich markup)."""
    sys.stdout.write(json.dumps(obj, sort_keys=False) + "\n")
