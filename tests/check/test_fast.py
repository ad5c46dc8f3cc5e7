"""The hand-written tokenizer gives exactly tree-sitter's segments wherever it answers."""

from __future__ import annotations

import ast
import random
import time
from pathlib import Path

import pytest

from tcplab.check._fast import fast_parse
from tcplab.check._parse import Parsed, tree_parse

_TOKEN_TEXT = (
    "git status -rf / a=b HEAD~1 ~/x x^ 'a b' \"c d\" '$x' \"$x\" *.py {a,b} #c 2 - -- && || ; | "
    "& > < x>y if export time ! \\ é ' \" ( ) $(ls) `ls` [ ] % @ , : + = rm echo '' \"\" "
    "'it''s' a'b'c x\"y\"z ~ -n=1 1 0x1 done in then fi { } a#b x,y @x :q +1 %s == -eq a= =a "
    "-x= x:y a/b .. ./x --x=y +x ^ a^b a~ -1 1.5 _ . / // x= -= a==b do esac select coproc case "
    "while until function elif else readonly local declare typeset unset 'export' \"if\" exec "
    "eval command sudo [[ ]] -e -f 2>&1 2>/dev/null >out.txt >> 2>> <in 1>&2 >&2 &> &>> 3>x 0<y "
    ">&- 12>z x2>y <<EOF <<< >| <> >&"
)
_TOKENS = _TOKEN_TEXT.split(" ")
_GLUE = (" ", " ", " ", "", "  ", "\t")


def _same(line: str) -> bool | None:
    """None when the fast path declines, else whether it equals the tree-sitter walk."""
    fast = fast_parse(line)
    if fast is None:
        return None
    tree = tree_parse(line, Parsed())
    want = [(s.text, s.words, s.pipe, s.stage, s.redirect, s.inputs) for s in tree.segments]
    plain = all(s.stdin is None and not s.env and not s.subst for s in tree.segments)
    return not tree.errors and plain and fast == want


def _test_lines() -> list[str]:
    out = set()
    for f in Path(__file__).parent.glob("test_*.py"):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.add(node.value)
    return sorted(s for s in out if 0 < len(s) < 400)


def test_fast_path_equals_tree_sitter_on_the_test_lines() -> None:
    lines = _test_lines()
    verdicts = {line: _same(line) for line in lines}
    assert [line for line, ok in verdicts.items() if ok is False] == []
    assert sum(ok is True for ok in verdicts.values()) > 150  # most lines take the fast path


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_tree_sitter_on_random_lines(seed: int) -> None:
    rng = random.Random(seed)
    answered = 0
    for _ in range(15_000):
        parts = [rng.choice(_TOKENS) + rng.choice(_GLUE) for _ in range(rng.randint(1, 8))]
        line = "".join(parts)
        line = line.strip(" ") if rng.random() < 0.7 else line
        ok = _same(line)
        assert ok is not False, line
        answered += ok is True
    assert answered > 1_000


def test_fast_path_declines_what_it_does_not_model() -> None:
    for line in [
        "ls > out x",
        "ls x>y",
        "ls >& out",
        "ls >&-",
        "cat <<EOF\nx\nEOF",
        "cat <<< x",
        "cat 0<x",
        "a | b 2>&1 | c",
        "cat - 2>/dev/null",
        "> out",
        "echo $HOME",
        "echo `id`",
        "ls *.py",
        "FOO=1 make",
        "export A=b",
        "if true; then ls; fi",
        "sleep 1 &",
        "ls\nrm x",
        "echo a\\ b",
        "ls # comment",
        "cat ~/x",
        "echo é",
        "git status;",
        "",
        "x" * 5000,
    ]:
        assert fast_parse(line) is None, line


def test_fast_path_takes_trailing_redirections() -> None:
    assert fast_parse("git status 2>&1 | head -5") == [
        ("git status", ["git", "status"], 1, 0, None, ()),
        ("head -5", ["head", "-5"], 1, 1, None, ()),
    ]
    assert fast_parse("make >build.log 2>&1") == [
        ("make", ["make"], -1, 0, None, ()),
        (">build.log", [], -1, 0, (">", "build.log"), ()),
    ]
    assert fast_parse("sort < in.txt >> 'out file'") == [
        ("sort", ["sort"], -1, 0, None, ("in.txt",)),
        (">> 'out file'", [], -1, 0, (">>", "out file"), ()),
    ]
    for line in ("git status 2>&1 | head -5", "make >build.log 2>&1", "sort < in.txt >> 'out'"):
        assert _same(line) is True, line


def test_tree_walk_gives_redirections_to_the_last_command() -> None:
    """tree-sitter-bash parses `a | b 2>&1 | c` as `(a | b) 2>&1 | c` and `a && b < f` as
    `(a && b) < f`; the walk restores bash's reading (one pipeline, the input is b's)."""
    seen = tree_parse("a | b 2>&1 | c", Parsed()).segments
    assert [(s.words, s.pipe, s.stage) for s in seen] == [
        (["a"], 1, 0),
        (["b"], 1, 1),
        (["c"], 1, 2),
    ]
    seen = tree_parse("a && b < f", Parsed()).segments
    assert [(s.words, s.inputs) for s in seen] == [(["a"], ()), (["b"], ("f",))]
    seen = tree_parse("a $(x) < f", Parsed()).segments  # not the substitution's command
    assert [(s.words, s.inputs) for s in seen] == [(["x"], ()), (["a", None], ("f",))]


def test_fast_path_is_linear_on_hostile_input() -> None:
    t0 = time.perf_counter()
    hostile = ["a" * 4000 + "!", "'a'" * 1300 + "$", "a b " * 1000 + "|", "a && " * 800 + "&"]
    hostile += ["a " + "> x " * 800 + "y", "a" + " 2>&1" * 700 + "1>"]
    for bad in hostile:
        assert fast_parse(bad) is None
    assert time.perf_counter() - t0 < 5.0  # catastrophic backtracking would take hours
