"""A hand-written tokenizer for the common simple-command subset; tree-sitter does the rest.

Most agent lines are plain commands joined by ``&&``, ``||``, ``;`` and ``|``, with quoted
arguments. For exactly that subset this module gives the same segments as the tree-sitter walk
(``tests/check/test_fast.py`` pins the two to each other on the test lines, the labelled lines
and a random corpus) without importing the parser; :func:`tcplab.check._parse.parse` tries it
first. It returns plain ``(text, words, pipe, stage)`` tuples. Anything else returns None and
goes to tree-sitter: redirections, expansions (``$``, backquotes, globs, braces, ``~`` at the
start of a word, ``@``, ``%``), words starting with ``=``, commands starting with ``-``,
backslashes, comments, newlines, ``&``, assignments, reserved and declaration words, empty
commands, non-ASCII text outside quotes, lines over 4,096 characters.
"""

from __future__ import annotations

import re

__all__ = ["FastSegment", "fast_parse"]

FastSegment = tuple[str, list[str | None], int, int]  # text, words, pipe, stage

# A word is atomic (no backtracking into it; linear on any input, the line is untrusted); its
# chunks cannot split one another (a bare chunk is maximal, quoted ones are delimited), so the
# plain `+` inside is unambiguous. Repetitions of groups are plain `*`/`+`, never possessive:
# each iteration starts with mandatory blanks or an operator, so backtracking only drops
# iterations.
# (CPython 3.11.2's possessive repeat of a group keeps the position of a failed iteration:
# ``a && `` and ``d"`` matched the whole line there; 3.11.7 was fine.)
_W = r"""(?>(?:[A-Za-z0-9_./:=,+^-][A-Za-z0-9_./:=,+^~-]*+|'[^'\n]*+'|"[^"\\$`!\n]*+")+)"""
_OP = r"(?:&&|\|\||[;|])"
_CMD = rf"{_W}(?:[ \t]++{_W})*"
# The whole line: commands of words separated by blanks, joined by operators (checked in C).
_LINE = re.compile(rf"[ \t]*+{_CMD}(?:[ \t]*+{_OP}[ \t]*+{_CMD})*[ \t]*+")
# One command of a line that matched _LINE (its text: first word to last word) and the
# operator after it; the words of a command.
_COMMAND = re.compile(rf"[ \t]*+({_CMD})[ \t]*+({_OP})?")
_WORD = re.compile(_W)
_MAX_FAST = 4096  # longer lines go to tree-sitter
_QUOTED = re.compile(r"""'([^']*)'|"([^"]*)\"""")
_KEYWORDS = "if then else elif fi for while until do done case esac function select in time"
_NOT_FIRST = frozenset(f"{_KEYWORDS} coproc export declare local readonly typeset unset".split())


def _unquote(m: re.Match[str]) -> str:
    return m.group(1) if m.group(1) is not None else m.group(2)


def fast_parse(text: str) -> list[FastSegment] | None:
    """The commands of ``text`` when it is in the simple subset, else None (use tree-sitter)."""
    if len(text) > _MAX_FAST or _LINE.fullmatch(text) is None:
        return None
    out: list[FastSegment] = []
    pipes, in_pipe, stage, after_pipe = 0, False, 0, False
    for m in _COMMAND.finditer(text):
        seg_text, op = m.groups()
        words = _WORD.findall(seg_text)
        head = words[0]
        # `export'x'` is still the keyword: the head up to its first quote
        if "=" in head or head[0] == "-" or _unquoted_start(head) in _NOT_FIRST:
            return None
        values: list[str | None] = []
        for w in words:
            if w[0] == "=":  # `==` is an operator token to tree-sitter
                return None
            values.append(_QUOTED.sub(_unquote, w) if "'" in w or '"' in w else w)
        piped = op == "|" or after_pipe
        if piped and not in_pipe:
            pipes, in_pipe, stage = pipes + 1, True, 0
        out.append((seg_text, values, pipes if piped else -1, stage))
        if op == "|":
            stage += 1
        else:
            in_pipe, stage = False, 0
        after_pipe = op == "|"
    return out


def _unquoted_start(word: str) -> str:
    return word.partition("'")[0].partition('"')[0]
