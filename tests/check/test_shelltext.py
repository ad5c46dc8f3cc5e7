"""Text-level readings of what tree-sitter-bash leaves unparsed (tcplab.check._shelltext)."""

from __future__ import annotations

import pytest

from tcplab.check._shelltext import (
    MAX_BRACE_WORDS,
    expand_braces,
    heredoc_ends_early,
    substitutions,
)


@pytest.mark.parametrize(
    ("word", "words"),
    [
        ("{-exec,rm,-rf,/,\\;}", ["-exec", "rm", "-rf", "/", ";"]),
        ("{-delete,}", ["-delete"]),
        ("a{b,c}d", ["abd", "acd"]),
        ("a{b,{c,d}}e", ["abe", "ace", "ade"]),
        ("x{1..3}", ["x1", "x2", "x3"]),
        ("{c..a}", ["c", "b", "a"]),
        ("{}", ["{}"]),
        ("a{b}c", ["a{b}c"]),
        ("{a,b", ["{a,b"]),
        ("{1..100000}", None),
        ("{a,b}'q'", None),
        ("{a,$x}", None),
    ],
)
def test_brace_expansion(word: str, words: list[str] | None) -> None:
    assert expand_braces(word) == words


def test_brace_expansion_stops_at_the_cap() -> None:
    assert expand_braces("{a,b}" * 7) is None  # 128 words
    assert len(expand_braces("{a,b}" * 6) or []) == 64 == MAX_BRACE_WORDS


def test_here_document_end_as_bash_reads_it() -> None:
    assert heredoc_ends_early("'EOF'", "$\nEOF\nrm -rf /\n", strip_tabs=False)
    assert heredoc_ends_early("EOF", "x\n\tEOF\ny\n", strip_tabs=True)
    assert not heredoc_ends_early("EOF", "x\n\tEOF\ny\n", strip_tabs=False)
    assert not heredoc_ends_early('"EOF"', "'EOF'\nEOFX\n", strip_tabs=False)


def test_substitutions_in_loose_text() -> None:
    errors: list[str] = []
    assert substitutions("a $(b c) `d` $(e $(f)) g", errors) == ["b c", "d", "e $(f)"]
    assert errors == []
    substitutions("$(: #)\nrm -rf /\n)", errors)  # bash reads `#)` as a comment
    assert errors and "without a parser" in errors[0]
    errors.clear()
    assert substitutions("x $(y", errors) == [] and "unclosed" in errors[0]
    errors.clear()
    assert substitutions("`y", errors) == [] and "unclosed" in errors[0]
