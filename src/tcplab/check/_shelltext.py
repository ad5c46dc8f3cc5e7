"""Shell text that tree-sitter-bash 0.25 leaves unparsed or reads differently from bash.

Used by the tree walk (:mod:`tcplab.check._tree`): the command substitutions in loose text
(:func:`substitutions`), brace expansion of unquoted words (:func:`expand_braces`), and where
bash ends a here-document (:func:`heredoc_ends_early`). Each errs on the side of approval:
what it cannot read is reported, and the check then needs approval.
"""

from __future__ import annotations

import itertools

__all__ = ["MAX_BRACE_WORDS", "expand_braces", "heredoc_ends_early", "substitutions"]

MAX_BRACE_WORDS = 64  # a brace word expanding to more words is left dynamic


def substitutions(text: str, errors: list[str]) -> list[str]:
    """The commands of the ``$(…)`` and backquoted parts of ``text`` (outermost ones).

    Parentheses are counted, so a ``)`` in a comment or a quoted string inside ``$(…)`` would
    end it early: a part with a ``#`` or a quote in it is reported in ``errors`` too.
    """
    out: list[str] = []
    i = 0
    while True:
        tick, dollar = text.find("`", i), text.find("$(", i)
        if tick < 0 and dollar < 0:
            return out
        if tick >= 0 and (dollar < 0 or tick < dollar):
            end = text.find("`", tick + 1)
            if end < 0:
                errors.append(f"unclosed backquote near {text[tick : tick + 40]!r}")
                return out
            out.append(text[tick + 1 : end])
            i = end + 1
            continue
        depth, j = 0, dollar + 1
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        if depth:
            errors.append(f"unclosed $( near {text[dollar : dollar + 40]!r}")
            return out
        inner = text[dollar + 2 : j]
        if any(c in inner for c in "#'\"\\"):
            errors.append(f"cannot delimit the substitution {inner[:40]!r} without a parser")
        out.append(inner)
        i = j + 1


def heredoc_ends_early(delimiter: str, body: str, strip_tabs: bool) -> bool:
    """Whether a line of ``body`` (as tree-sitter delimited it) is the delimiter: bash ends
    the here-document there and runs the lines after it as commands (``\\`` or ``$`` alone on
    the first body line makes tree-sitter-bash 0.25 read past the delimiter)."""
    word = delimiter
    for quote in ("'", '"', "\\"):
        word = word.replace(quote, "")
    lines = body.split("\n")
    return any((line.lstrip("\t") if strip_tabs else line) == word for line in lines)


def expand_braces(raw: str) -> list[str] | None:
    """The words bash makes of an unquoted word by brace expansion (``{-exec,rm}`` → ``-exec``,
    ``rm``; ``x{1..3}`` → ``x1``, ``x2``, ``x3``), escapes removed; None when the word has
    quotes or expansions, an unsupported form or more than :data:`MAX_BRACE_WORDS` results."""
    if any(c in raw for c in "'\"$`"):
        return None
    words = _expand(raw)
    if words is None or len(words) > MAX_BRACE_WORDS:
        return None
    return [_unescape(w) for w in words if w]  # unquoted empty words are dropped


def _expand(raw: str) -> list[str] | None:
    """Brace expansion of ``raw`` (escapes kept), or None (too many words)."""
    found = _group(raw)
    if found is None:
        return [raw]
    start, end, items = found
    if not items:
        return None
    out: list[str] = []
    for item in items:
        words = _expand(raw[:start] + item + raw[end + 1 :])
        if words is None:
            return None
        out.extend(words)
        if len(out) > MAX_BRACE_WORDS:
            return None
    return out


def _group(raw: str) -> tuple[int, int, list[str]] | None:
    """The first ``{…}`` that expands: (its start, its end, the alternatives)."""
    i = 0
    while i < len(raw):
        if raw[i] == "\\":
            i += 2
            continue
        if raw[i] == "{":
            end, commas = _close(raw, i)
            if end > 0 and commas:
                return i, end, _split(raw[i + 1 : end], commas, i + 1)
            if end > 0:
                seq = _sequence(raw[i + 1 : end])
                if seq is not None:
                    return i, end, seq
        i += 1
    return None


def _close(raw: str, start: int) -> tuple[int, list[int]]:
    """The ``}`` closing the ``{`` at ``start`` (-1: none) and the top-level commas."""
    depth, i = 0, start
    commas: list[int] = []
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i, commas
        elif c == "," and depth == 1:
            commas.append(i)
        i += 1
    return -1, []


def _split(inner: str, commas: list[int], offset: int) -> list[str]:
    cuts = [c - offset for c in commas]
    bounds = [-1, *cuts, len(inner)]
    return [inner[a + 1 : b] for a, b in itertools.pairwise(bounds)]


def _sequence(inner: str) -> list[str] | None:
    """``1..3``, ``a..c`` (no step): the items; None when it is not such a sequence."""
    parts = inner.split("..")
    if len(parts) != 2:
        return None
    a, b = parts
    if _integer(a) and _integer(b):
        lo, hi = int(a), int(b)
        if abs(hi - lo) >= MAX_BRACE_WORDS:
            return []  # a sequence, too long to list: the word stays dynamic
        step = 1 if hi >= lo else -1
        return [str(n) for n in range(lo, hi + step, step)]
    if len(a) == 1 and len(b) == 1 and a.isalpha() and b.isalpha():
        step = 1 if ord(b) >= ord(a) else -1
        return [chr(n) for n in range(ord(a), ord(b) + step, step)]
    return None


def _integer(s: str) -> bool:
    return s.lstrip("-").isdigit() and len(s) < 8


def _unescape(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        if word[i] == "\\" and i + 1 < len(word):
            out.append(word[i + 1])
            i += 2
            continue
        out.append(word[i])
        i += 1
    return "".join(out)
