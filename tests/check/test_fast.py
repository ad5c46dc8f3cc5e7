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
    "eval command sudo [[ ]] -e -f"
)
_TOKENS = _TOKEN_TEXT.split(" ")
_GLUE = (" ", " ", " ", "", "  ", "\t")


def _same(line: str) -> bool | None:
    """None when the fast path declines, else whether it equals the tree-sitter walk."""
    fast = fast_parse(line)
    if fast is None:
        return None
    tree = tree_parse(line, Parsed())
    return not tree.errors and fast == [(s.text, s.words, s.pipe, s.stage) for s in tree.segments]


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
        "ls > out",
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


def test_fast_path_is_linear_on_hostile_input() -> None:
    t0 = time.perf_counter()
    for bad in ["a" * 4000 + "!", "'a'" * 1300 + "$", "a b " * 1000 + "|", "a && " * 800 + "&"]:
        assert fast_parse(bad) is None
    assert time.perf_counter() - t0 < 5.0  # catastrophic backtracking would take hours
