"""Plain-text clean-up of rendered man pages and the section splitter.

``groff -Tutf8`` output of a man page looks like::

    LS(1)                         User Commands                        LS(1)

    NAME
           ls - list directory contents

    SYNOPSIS
           ls [OPTION]... [FILE]...
    ...
    GNU coreutils 9.1             September 2022                       LS(1)

Section headings (``.SH``) are the only lines that start in column 0 besides the running
header and footer, which is what :func:`split_sections` relies on.
"""

from __future__ import annotations

import re
import textwrap

__all__ = ["clean_text", "split_sections"]

# CSI sequences (colours, bold...) and OSC sequences (hyperlinks), as terminals see them.
_ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Overstrike: "X\bX" (bold) and "_\bX" (underline) both keep what follows the backspace.
_OVERSTRIKE_RE = re.compile(r"[^\n]\x08")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# groff -Tutf8 renders "-" and "\-" as U+2010 / U+2212; options must stay greppable.
_DASHES = str.maketrans({"\u2010": "-", "\u2011": "-", "\u2212": "-", "\u00ad": None})
# The running header and footer: "LS(1)   User Commands   LS(1)", "GNU ...   LS(1)".
_RUNNING_RE = re.compile(r"^\S.*\s{2,}\S+\(\w+\)\s*$")
_MAX_HEADING = 80


def clean_text(text: str) -> str:
    """Turn terminal-formatted text into plain text.

    Removes ANSI escape sequences and backspace overstrike, maps Unicode hyphens and
    minus signs to ``-``, drops other control characters (tabs become spaces), strips
    trailing spaces and collapses runs of blank lines into one.

    Args:
        text: rendered text, e.g. ``groff`` or ``--help`` output.

    Returns:
        The cleaned text, without leading or trailing blank lines, ending in ``"\\n"``
        unless empty.
    """
    text = _ANSI_RE.sub("", text.replace("\r\n", "\n"))
    while "\x08" in text:
        stripped = _OVERSTRIKE_RE.sub("", text)
        if stripped == text:
            stripped = text.replace("\x08", "")
        text = stripped
    text = text.expandtabs(8).translate(_DASHES)
    text = _CONTROL_RE.sub("", text.replace("\r", "\n"))
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.rstrip()
        if line or (lines and lines[-1]):
            lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _is_heading(line: str) -> bool:
    return (
        bool(line)
        and not line[0].isspace()
        and len(line) <= _MAX_HEADING
        and any(ch.isalpha() for ch in line)
        and not _RUNNING_RE.match(line)
    )


def split_sections(text: str) -> dict[str, str]:
    """Split a rendered man page into its sections.

    Every column-0 line is a heading; its body is everything up to the next heading,
    with the common indentation removed. The running header and footer are dropped.
    Headings are upper-cased (``Options`` -> ``OPTIONS``) and a repeated heading's
    bodies are joined with a blank line. ``NAME``, ``SYNOPSIS``, ``DESCRIPTION`` and
    ``OPTIONS`` thus come apart; every other section keeps its own name.

    Args:
        text: plain text as returned by :func:`clean_text` (raw ``groff`` output works).

    Returns:
        Heading -> body, in page order; empty when the text has no heading.

    Example:
        >>> split_sections("NAME\\n       ls - list\\n\\nOPTIONS\\n       -a\\n")
        {'NAME': 'ls - list', 'OPTIONS': '-a'}
    """
    lines = clean_text(text).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if lines and _RUNNING_RE.match(lines[-1]):
        lines.pop()
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines:
        if _is_heading(line):
            key = " ".join(line.split()).upper()
            current = sections.setdefault(key, [])
            if current:
                current.append("")
            continue
        if current is not None:
            current.append(line)
    out: dict[str, str] = {}
    for key, body in sections.items():
        out[key] = textwrap.dedent("\n".join(body)).strip("\n")
    return out
