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

# Possessive and atomic: no backtracking (linear on any input; the line is untrusted).
_W = r"""(?>(?:[A-Za-z0-9_./:=,+^-][A-Za-z0-9_./:=,+^~-]*+|'[^'\n]*+'|"[^"\\$`!\n]*+")++)"""
_OP = r"(?:&&|\|\||[;|])"
_CMD = rf"{_W}(?:[ \t]++{_W})*+"
# The whole line: commands of words separated by blanks, joined by operators (checked in C).
_LINE = re.compile(rf"[ \t]*+{_CMD}(?:[ \t]*+{_OP}[ \t]*+{_CMD})*+[ \t]*+")
# One token of a line that matched _LINE: an operator or a word.
_TOKEN = re.compile(rf"({_OP})|{_W}")
_MAX_FAST = 4096  # longer lines go to tree-sitter
_KEYWORD_PREFIX = re.compile(r"['\"]")  # `export'x'` is still the keyword
_QUOTED = re.compile(r"""'([^']*)'|"([^"]*)\"""")
_KEYWORDS = "if then else elif fi for while until do done case esac function select in time"
_NOT_FIRST = frozenset(f"{_KEYWORDS} coproc export declare local readonly typeset unset".split())


def _value(word: str) -> str:
    if "'" not in word and '"' not in word:
        return word
    return _QUOTED.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), word)


def _segments(text: str) -> list[tuple[list[tuple[int, int, str]], str]] | None:
    """Commands (word spans) and the operator after each; None outside the subset."""
    if len(text) > _MAX_FAST or _LINE.fullmatch(text) is None:
        return None
    out: list[tuple[list[tuple[int, int, str]], str]] = []
    words: list[tuple[int, int, str]] = []
    for m in _TOKEN.finditer(text):
        op = m.group(1)
        if op is None:
            words.append((m.start(), m.end(), m.group()))
        else:
            out.append((words, op))
            words = []
    out.append((words, ""))
    return out


def fast_parse(text: str) -> list[FastSegment] | None:
    """The commands of ``text`` when it is in the simple subset, else None (use tree-sitter)."""
    commands = _segments(text)
    if commands is None:
        return None
    out: list[FastSegment] = []
    pipes, in_pipe, stage = 0, False, 0
    for i, (words, op) in enumerate(commands):
        head = words[0][2]
        if "=" in head or head[0] == "-" or _KEYWORD_PREFIX.split(head, 1)[0] in _NOT_FIRST:
            return None
        if any(w[0] == "=" for _s, _e, w in words):  # `==` is an operator token to tree-sitter
            return None
        piped = op == "|" or (i > 0 and commands[i - 1][1] == "|")
        if piped and not in_pipe:
            pipes, in_pipe, stage = pipes + 1, True, 0
        values: list[str | None] = [_value(w) for _s, _e, w in words]
        seg_text = text[words[0][0] : words[-1][1]]
        out.append((seg_text, values, pipes if piped else -1, stage))
        if op == "|":
            stage += 1
        else:
            in_pipe, stage = False, 0
    return out
