"""The precompiled shortcuts of the knowledge decide exactly like the plain definitions.

Rule tables skip rules whose flags a command lacks, a condition's regexes are joined into one
alternation, and a command with no option gets a shared-list view: each is checked here
against the slow form it replaces, on every tool of the shipped knowledge.
"""

from __future__ import annotations

import random
import re

import pytest

from tcplab.check._knowledge import load_knowledge
from tcplab.check._rules import Patterns, Rule, _needs_dash
from tcplab.check._view import NO_OPTIONS, View

_NOISE = ["x", "-", "--", "/", "/etc/passwd", "./a", "~/x", "-1", "--=", "a=b", "-Z", "--zz"]


def _words(rules: tuple[Rule, ...], rng: random.Random) -> list[str | None]:
    """A command line built from the rules' own flags, abbreviations, values and noise."""
    pool = list(_NOISE)
    for r in rules:
        pool.extend(r.flags)
        pool.extend(r.all_flags)
        pool.extend(r.sub)
        pool.extend(r.values_of)
        pool.extend(o + "=v" for o in r.values_of)
        pool.extend(f[: rng.randint(2, len(f))] for f in r.flags if f.startswith("--"))
        pool.extend(f + "=v" for f in r.flags if f.startswith("--"))
        pool.extend("-" + "".join(rng.sample("abcdefrRnvxz", 3)) for _ in range(1))
    words: list[str | None] = ["tool"]
    for _ in range(rng.randint(0, 6)):
        words.append(None if rng.random() < 0.05 else rng.choice(pool))
    return words


def test_rule_tables_leave_out_only_rules_that_cannot_match() -> None:
    knowledge = load_knowledge()
    rng = random.Random(5)
    checked = 0
    for spec in knowledge.tools.values():
        subs = [None, *{s for r in spec.rules for s in r.sub}]
        for sub in subs:
            table = spec.table(sub)
            for i in range(8):
                words = _words(table.rules, rng)
                if i % 3 == 0:  # a plain view: no option, no dynamic word
                    words = [w for w in words if w is not None and not w.startswith("-")]
                if sub is not None:
                    words.insert(1, sub)
                view = View(words, spec.options)
                full = [r.name for r in spec.table(view.sub).rules if r.matches(view)]
                fast = [r.name for r in spec.table(view.sub).candidates(view) if r.matches(view)]
                assert fast == full, (spec.name, words)
                checked += 1
    assert checked > 10_000


def test_joined_patterns_match_like_each_pattern() -> None:
    knowledge = load_knowledge()
    system = knowledge.system.pattern
    found: set[str] = set()
    for spec in knowledge.tools.values():
        for rule in spec.rules:
            for cond in (rule.args, rule.argv, rule.first, rule.last, rule.unless_argv):
                if cond is not None:
                    found.update(cond.sources)
    patterns = sorted(found)
    assert len(patterns) > 500
    rng = random.Random(9)
    values = ["", "/", "/etc/x", "-delete", "-exec", "s/a/b/w out", "1e", "POWEROFF", "~/.ssh/id"]
    values += ["".join(rng.choice("/.-~aeiswx0123 ;{}\\$") for _ in range(8)) for _ in range(200)]
    for _ in range(400):
        group = rng.sample(patterns, rng.randint(1, 6))
        joined = Patterns(group)
        for v in rng.sample(values, 20):
            assert joined.any([v]) == any(re.search(p, v) for p in group), (group, v)
    assert Patterns([system]).any(["/etc/passwd"])


def test_joined_patterns_keep_backreferences_and_scope_leading_flags() -> None:
    p = Patterns([r"s(.)a\1b\1", "(?i)REBOOT", "^x$"])
    assert p.rest and p.joined is not None
    assert p.any(["s/a/b/"]) and p.any(["reboot now"]) and p.any(["x"])
    assert not p.any(["s/a|b/", "xx", "shutdown"])


@pytest.mark.parametrize(
    "words",
    [["git", "status"], ["ls", "src/", "a b"], ["cd"], ["echo", "--"], ["rm", "-rf", "x", None]],
)
def test_a_view_without_options_is_the_general_reading(words: list[str | None]) -> None:
    fast = View(words)
    slow = View.__new__(View)
    slow.words, slow.dynamic, slow.plain = words, False, False
    slow._read(words[1:], NO_OPTIONS)
    assert fast.plain == (None not in words and not any(w.startswith("-") for w in words[1:]))
    for name in View.__slots__:
        if name != "plain":
            assert getattr(fast, name) == getattr(slow, name), name


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        ("^-x", True),
        ("^--output=", True),
        ("^-[tp][vOPT]*$", True),
        ("^\\-d", True),
        ("^-(a|b)", True),
        ("^-[|]x", True),
        ("^-[]|]x", True),
        ("^-?[dmqrsx]", False),
        ("^-*x", False),
        ("^-x|y", False),
        ("^-[|]x|y", False),
        ("^-[\\]|]x|y", False),
        ("-x", False),
        ("^(-x)", False),
        ("(?i)^-x", False),
        ("^-[x", False),
    ],
)
def test_a_pattern_needs_a_dash_only_when_every_match_starts_with_one(
    pattern: str, needs: bool
) -> None:
    assert _needs_dash(pattern) is needs


def test_an_invalid_pattern_is_an_error() -> None:
    with pytest.raises(re.error):
        Patterns(["^a(", "b"])
    with pytest.raises(re.error):
        Patterns(["^a("])
