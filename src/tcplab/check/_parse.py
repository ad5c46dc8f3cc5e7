"""Shell text → simple commands, with tree-sitter-bash (imported on first use).

Every simple command anywhere in the text becomes a :class:`Segment`: list members, pipeline
stages, subshells, bodies of ``if``/``for``/functions, command substitutions ``$(…)`` and
backticks (also inside arguments, assignments, strings and here-doc bodies) and process
substitutions. Words are resolved to their static text; a word whose value depends on an
expansion is ``None`` (dynamic). Redirections become their own segments. Text that does not
parse is reported in :attr:`Parsed.errors` (the check makes it REQUIRE_APPROVAL).
"""

from __future__ import annotations

import re
from typing import Any

from tcplab.check._fast import fast_parse
from tcplab.check._segment import Parsed, Segment
from tcplab.errors import MissingDependencyError

__all__ = ["Parsed", "Segment", "clear_parse_cache", "parse", "tree_parse"]

_PARSER: list[Any] = []
_CACHE: dict[str, Parsed] = {}
_CACHE_MAX = 4096
_CACHE_TEXT = 4096
_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
# bash reads CR (not before LF), FF and VT as word characters, where tree-sitter sees blanks
# (`echo a\r#; rm -rf /` runs rm), and joins `$\<newline>(` into `$(`
_ODD = re.compile(r"\r(?!\n)|[\f\v]|[$<>](?:\\\n)+[({]")


def _parser() -> Any:
    if not _PARSER:
        try:
            import tree_sitter
            import tree_sitter_bash
        except ImportError as exc:
            raise MissingDependencyError.for_extra(
                "tree-sitter-bash", "check", "tcplab check"
            ) from exc
        _PARSER.append(tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language())))
    return _PARSER[0]


def _fast_segment(
    text: str,
    words: list[str | None],
    pipe: int,
    stage: int,
    redirect: tuple[str, str | None] | None,
    inputs: tuple[str, ...],
) -> Segment:
    seg = Segment(text, words, redirect, pipe, stage)
    if inputs:
        seg.inputs = inputs
    return seg


def parse(text: str) -> Parsed:
    """Parse shell text into segments (never raises on bad shell; see :attr:`Parsed.errors`).

    Results of texts up to 4 KiB are kept (up to 4,096 of them; agents repeat lines); they are
    shared, so callers never modify them.
    """
    found = _CACHE.get(text)
    if found is not None:
        return found
    out = Parsed()
    simple = fast_parse(text)
    if simple is not None:  # the common subset, same result as tree-sitter (tests/check)
        out.segments = [_fast_segment(*found) for found in simple]
    else:
        tree_parse(text, out)
    if len(text) <= _CACHE_TEXT:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[text] = out
    return out


def tree_parse(text: str, out: Parsed) -> Parsed:
    """Parse ``text`` with tree-sitter into ``out`` (no cache, no fast path).

    Characters outside the Basic Multilingual Plane are replaced by U+FFFD first: with them,
    tree-sitter-bash 0.25.1 crashes the process now and then (a segmentation fault found by
    ``tests/check/test_fuzz.py``); they only ever occur inside words.
    """
    if _ASTRAL.search(text):
        text = _ASTRAL.sub("\ufffd", text)
    if _ODD.search(text):
        out.errors.append("bash reads this text differently (CR, FF, VT, or $\\<newline>()")
    tree = _parser().parse(text.encode("utf-8", "surrogatepass"))
    root = tree.root_node
    from tcplab.check._tree import walk_tree  # only lines outside the simple subset

    walk_tree(root, out, _parser())
    if tree.root_node.has_error and not out.errors:
        out.errors.append("the text does not parse as shell")
    return out


def clear_parse_cache() -> None:
    """Forget the kept parse results (benchmarks of cold lines)."""
    _CACHE.clear()
