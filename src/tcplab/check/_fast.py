"""A hand-written tokenizer for the common simple-command subset; tree-sitter does the rest.

Most agent lines are plain commands joined by ``&&``, ``||``, ``;`` and ``|``, with quoted
arguments and a few redirections at the end (``2>&1``, ``> out.txt``, ``2>/dev/null``,
``< in``). For exactly that subset this module gives the same segments as the tree-sitter walk
(``tests/check/test_fast.py`` pins the two to each other on the test lines, the labelled lines
and a random corpus) without importing the parser; :func:`tcplab.check._parse.parse` tries it
first. It returns plain tuples (:data:`FastSegment`). Anything else returns None and goes to
tree-sitter: redirections before an argument or glued to a word, here-documents and
here-strings, expansions (``$``, backquotes, globs, braces, ``~`` at the start of a word, ``@``,
``%``), words starting with ``=``, commands starting with ``-``, backslashes, comments,
newlines, ``&`` (but ``&>``), assignments, reserved and declaration words, empty commands,
non-ASCII text outside quotes, lines over 4,096 characters.
"""

from __future__ import annotations

import re

__all__ = ["FastSegment", "fast_parse"]

_Redirect = tuple[str, str | None]  # operator, target
# text, words, pipe, stage, the redirection (or None), the static `< FILE` inputs
FastSegment = tuple[str, list[str | None], int, int, _Redirect | None, tuple[str, ...]]

# A word is atomic (no backtracking into it; linear on any input, the line is untrusted); its
# chunks cannot split one another (a bare chunk is maximal, quoted ones are delimited), so the
# plain `*` inside is unambiguous. Repetitions of groups are plain `*`/`+`, never possessive:
# each iteration starts with mandatory blanks or an operator, so backtracking only drops
# iterations.
# (CPython 3.11.2's possessive repeat of a group keeps the position of a failed iteration:
# ``a && `` and ``d"`` matched the whole line there; 3.11.7 was fine.)
_CHUNK = r"""[A-Za-z0-9_./:=,+^-][A-Za-z0-9_./:=,+^~-]*+|'[^'\n]*+'|"[^"\\$`!\n]*+\""""
# the first chunk of a word may not start with `=` (`==` is an operator token to tree-sitter)
_FIRST = r"""[A-Za-z0-9_./:,+^-][A-Za-z0-9_./:=,+^~-]*+|'[^'\n]*+'|"[^"\\$`!\n]*+\""""
_W = rf"(?>(?:{_FIRST})(?:{_CHUNK})*)"
_OP = r"(?:&&|\|\||[;|])"
# A redirection after the words: output with an optional one-digit descriptor (tree-sitter
# reads `0<x` as the word 0), `>&` only to a descriptor (`2>&1`; `>&-` and `>& file` differ).
_REDIR = rf"(?:[0-9]?>&[0-9]++|(?:[0-9]?>>?|&>>?|<)[ \t]*+{_W})"
# A command's words (none glued to `<`/`>`: `2>x` is a redirection) and its redirections.
_CMD = rf"{_W}(?:[ \t]++{_W}(?![<>]))*"
# One command with the blanks around it and the operator after it, every piece captured: the
# line is in the subset exactly when these pieces tile it (their lengths add up to the line's;
# findall skips what does not match) and only the last command has no operator.
_PIECES = re.compile(rf"([ \t]*+)({_CMD})((?:[ \t]++{_REDIR})*)([ \t]*+)({_OP}?)")
_WORD = re.compile(_W)
_REDIRS = re.compile(rf"[ \t]++(([0-9]?)(>>|>&|>|<|&>>|&>)[ \t]*+({_W}))")
_WRITE_OPS = frozenset({">", ">>", "&>", "&>>", ">&"})
_MAX_FAST = 4096  # longer lines go to tree-sitter
_QUOTED = re.compile(r"""'([^']*)'|"([^"]*)\"""")
_KEYWORDS = "if then else elif fi for while until do done case esac function select in time"
_NOT_FIRST = frozenset(f"{_KEYWORDS} coproc export declare local readonly typeset unset".split())


def _unquote(m: re.Match[str]) -> str:
    return m.group(1) if m.group(1) is not None else m.group(2)


def _value(word: str) -> str:
    return _QUOTED.sub(_unquote, word) if "'" in word or '"' in word else word


def fast_parse(text: str) -> list[FastSegment] | None:
    """The commands of ``text`` when it is in the simple subset, else None (use tree-sitter)."""
    if len(text) > _MAX_FAST:
        return None
    pieces = _PIECES.findall(text)
    if not pieces or pieces[-1][4]:
        return None
    size = 0
    for lead, cmd, redirs, trail, op in pieces:
        size += len(lead) + len(cmd) + len(redirs) + len(trail) + len(op)
    if size != len(text):  # something between the pieces did not match
        return None
    out: list[FastSegment] = []
    pipes, in_pipe, stage, after_pipe = 0, False, 0, False
    last = len(pieces) - 1
    for i, (_, seg_text, redirs, _, op) in enumerate(pieces):
        if not op and i != last:  # two commands with no operator between them
            return None
        words: list[str | None] = _WORD.findall(seg_text)
        head = words[0]
        assert head is not None
        if "=" in head or head[0] == "-":
            return None
        if "'" in seg_text or '"' in seg_text:
            # `export'x'` is still the keyword: the head up to its first quote
            if _unquoted_start(head) in _NOT_FIRST:
                return None
            words = [_value(w) for w in words]  # type: ignore[arg-type]
        elif head in _NOT_FIRST:
            return None
        piped = op == "|" or after_pipe
        if redirs and ((after_pipe and op == "|") or "-" in words):
            return None  # tree-sitter nests `a | b 2>&1 | c`, drops the `-` of `a - 2>x`
        if piped and not in_pipe:
            pipes, in_pipe, stage = pipes + 1, True, 0
        if redirs:
            out.extend(_redirections(seg_text, words, pipes if piped else -1, stage, redirs))
        else:
            out.append((seg_text, words, pipes if piped else -1, stage, None, ()))
        if op == "|":
            stage += 1
        else:
            in_pipe, stage = False, 0
        after_pipe = op == "|"
    return out


def _redirections(
    text: str, words: list[str | None], pipe: int, stage: int, redirs: str
) -> list[FastSegment]:
    """A command and the segments of its redirections, as the tree-sitter walk makes them:
    writes become their own segments (``2>&1`` does not), ``< FILE`` the command's inputs."""
    inputs: list[str] = []  # the tree walk gives them to the command the redirection follows
    writes: list[FastSegment] = []
    for whole, _, op, target in _REDIRS.findall(redirs):
        value = _value(target)
        if op == "<":
            inputs.append(value)
        elif op in _WRITE_OPS and not (op == ">&" and value.isdigit()):
            writes.append((whole, [], -1, 0, (op, value), ()))
    return [(text, words, pipe, stage, None, tuple(inputs)), *writes]


def _unquoted_start(word: str) -> str:
    return word.partition("'")[0].partition('"')[0]
