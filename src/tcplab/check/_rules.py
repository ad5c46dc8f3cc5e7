"""Compiled knowledge rules: conditions (:class:`Rule`), their regexes (:class:`Patterns`) and
the per-subcommand tables that skip rules a command cannot match (:class:`RuleTable`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from tcplab.check._view import LOWER_CLUSTER, View
from tcplab.descriptor import Capability, RiskLevel
from tcplab.errors import TcplabError

__all__ = ["EFFECTS", "Patterns", "Rule", "RuleTable", "caps_of"]

EFFECTS = ("set", "raise", "final")


class Rule:
    """One compiled rule: conditions, effect, level, capabilities and the reason text."""

    __slots__ = (
        "_longs",
        "_more",
        "_shorts",
        "_words",
        "all_flags",
        "args",
        "argv",
        "caps",
        "dynamic",
        "effect",
        "first",
        "flags",
        "last",
        "leading",
        "level",
        "lower",
        "max_operands",
        "min_operands",
        "name",
        "not_plain",
        "sub",
        "unless_argv",
        "values_of",
        "values_unless",
        "why",
    )

    def __init__(self, raw: dict[str, Any], name: str, system: str) -> None:
        effect = str(raw.get("effect", "raise"))
        if effect not in EFFECTS:
            raise TcplabError(f"{name}: unknown effect {effect!r} (one of {', '.join(EFFECTS)})")
        self.name, self.effect = name, effect
        self.level = RiskLevel.parse(str(raw["level"]))
        # a rule that can lower a level trusts only unambiguous short flags (View.shorts_lower);
        # ToolSpec clears this for a `set` above the tool's own level
        self.lower = effect != "raise"
        self.caps = caps_of(raw.get("capabilities", ()))
        self.why = str(raw.get("why", ""))
        self.sub = frozenset(str(s) for s in raw.get("sub", ()))
        self.flags = tuple(str(f) for f in raw.get("flags", ()))
        # precompiled flag table: a flag matches by set intersection with the command's flags
        self._longs = frozenset(f for f in self.flags if f.startswith("--"))
        self._shorts = frozenset(f[1] for f in self.flags if len(f) == 2 and f[0] == "-")
        self._words = frozenset(f for f in self.flags if f not in self._longs and len(f) != 2)
        self.all_flags = tuple(str(f) for f in raw.get("all_flags", ()))
        self.args = _regexes(raw.get("args", ()), system)
        self.argv = _regexes(raw.get("argv", ()), system)
        self.first = _regexes(raw.get("first", ()), system)
        self.last = _regexes(raw.get("last", ()), system)
        self.dynamic = bool(raw.get("dynamic_arg", False))
        # flags count only before the first operand: after it they belong to the program run
        # (``node x.js --help``, ``sh -c CMD --version`` must not read as help)
        self.leading = bool(raw.get("leading", False))
        # at most this many operands (``ifconfig eth0`` shows; ``ifconfig eth0 10.0.0.2`` sets)
        most = raw.get("max_operands")
        self.max_operands = -1 if most is None else int(most)
        least = raw.get("min_operands")  # at least this many (a dynamic word may be one more)
        self.min_operands = 0 if least is None else int(least)
        self.unless_argv = _regexes(raw.get("unless_argv", ()), system)
        values = raw.get("values") or {}
        self.values_of = frozenset(str(o) for o in values.get("of", ()))
        self.values_unless = _regexes(values.get("unless", ()), system)
        # most rules have only a subcommand and/or flags: the other conditions are skipped
        self._more = bool(
            self.leading
            or self.max_operands >= 0
            or self.min_operands > 0
            or self.all_flags
            or self.first
            or self.args
            or self.dynamic
            or self.last
            or self.unless_argv
            or self.values_of
            or self.argv
        )
        self.not_plain = _not_plain(self)

    def _leads(self, view: View) -> bool:
        """One of the rule's flags is among the words before the first operand."""
        head = view.argv if view.lead < 0 else view.argv[: view.lead]
        for w in head:
            if w in self.flags or w.split("=", 1)[0] in self._longs:
                return True
            short = not w.startswith("--") and len(w) <= LOWER_CLUSTER + 1 and w[1:].isalpha()
            if short and any(c in self._shorts for c in w[1:]):
                return True
        return False

    def _abbreviated(self, longs: AbstractSet[str]) -> bool:
        """getopt_long takes any unambiguous prefix (``--vacuum-s`` for ``--vacuum-size``):
        for a ``raise`` rule a long option of four or more characters that starts one of the
        rule's long flags counts as that flag (a wrong guess only asks for more care)."""
        if not longs or not self._longs:
            return False
        return any(f.startswith(w) for w in longs if len(w) >= 4 for f in self._longs)

    def matches(self, view: View) -> bool:
        """Whether every condition of the rule holds for ``view``."""
        if self.sub and view.sub not in self.sub:
            return False
        if (
            self.flags
            and self._longs.isdisjoint(view.longs_lower if self.lower else view.longs)
            and self._shorts.isdisjoint(view.shorts_lower if self.lower else view.shorts)
            and (self.lower or not self._abbreviated(view.longs))
            and self._words.isdisjoint(view.argv)
        ):
            return False
        return not self._more or self._matches_more(view)

    def _matches_more(self, view: View) -> bool:
        """The conditions other than ``sub`` and ``flags``."""
        if self.leading and self.flags and not self._leads(view):
            return False
        if self.min_operands > len(view.operands) + (0 if self.lower else view.dynamic):
            return False
        if self.max_operands >= 0 and (
            len(view.operands) > self.max_operands or (self.lower and view.dynamic)
        ):
            return False
        if self.all_flags and not all(view.has_flag(f, self.lower) for f in self.all_flags):
            return False
        if self.first and not (view.operands and self.first.any(view.operands[:1])):
            return False
        if self.args and not self.args.any(view.operands_lower if self.lower else view.operands):
            return False
        if self.dynamic and not view.dynamic:
            return False
        # a lowering rule sees only words that cannot be another option's value; a word that
        # may be a value never suppresses a raise either (unless_argv)
        trusted = view.argv_lower
        if self.last and not (view.argv and self.last.any(view.argv[-1:])):
            return False
        if self.lower and self.last and not (trusted and trusted[-1] is view.argv[-1]):
            return False
        if self.unless_argv and self.unless_argv.any(view.argv if self.lower else trusted):
            return False
        if self.values_of and not self._bad_value(view.words):
            return False
        return not (self.argv and not self.argv.any(trusted if self.lower else view.argv))

    def _bad_value(self, words: list[str | None]) -> bool:
        """Whether some option of ``values.of`` has a value (the next word, or ``--opt=v``)
        that matches none of ``values.unless`` — a dynamic or missing value counts as bad."""
        for i, w in enumerate(words[1:], 1):
            if w is None:
                continue
            if w in self.values_of:
                value = words[i + 1] if i + 1 < len(words) else None
            elif "=" in w and w.split("=", 1)[0] in self.values_of:
                value = w.split("=", 1)[1]
            else:
                continue
            if value is None or not (self.values_unless and self.values_unless.any([value])):
                return True
        return False


class RuleTable:
    """Rules (in file order) with an index of their flags: :meth:`candidates` leaves out the
    rules that name flags of which the command has none (they cannot match)."""

    __slots__ = (
        "_always",
        "_by_mask",
        "_longs",
        "_plain",
        "_shorts",
        "_values",
        "_words",
        "rules",
    )

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        self._always = 0  # rules without flags
        self._shorts: dict[str, int] = {}  # letter -> rules naming -letter
        self._longs: dict[str, int] = {}  # --long, or (raise rules) any prefix of 4+ chars
        self._words: dict[str, int] = {}  # other flags (-delete, +x), matched in argv
        self._values: dict[str, int] = {}  # options of `values` rules without flags
        for i, rule in enumerate(rules):
            bit = 1 << i
            if not rule.flags and rule.values_of:  # needs one of the options in the words
                for o in rule.values_of:
                    self._values[o] = self._values.get(o, 0) | bit
                continue
            if not rule.flags:
                self._always |= bit
                continue
            for c in rule._shorts:
                self._shorts[c] = self._shorts.get(c, 0) | bit
            for w in rule._words:
                self._words[w] = self._words.get(w, 0) | bit
            for f in rule._longs:
                # a raise rule also matches an abbreviation (Rule._abbreviated): --vacuum-s
                low = len(f) if rule.lower else min(4, len(f))
                for n in range(low, len(f) + 1):
                    self._longs[f[:n]] = self._longs.get(f[:n], 0) | bit
        self._by_mask: dict[int, tuple[Rule, ...]] = {}
        self._plain = tuple(r for r in rules if not r.not_plain)

    def candidates(self, view: View) -> tuple[Rule, ...]:
        """The rules that may match ``view``, in file order (each still checked in full)."""
        if view.plain:
            return self._plain
        mask = self._always
        if view.shorts:
            shorts = self._shorts
            for c in view.shorts:
                mask |= shorts.get(c, 0)
        if view.longs:
            longs = self._longs
            for f in view.longs:
                mask |= longs.get(f, 0)
        if self._words:
            words = self._words
            for w in view.argv:
                mask |= words.get(w, 0)
        if self._values:  # the option, or `--option=value` (Rule._bad_value)
            values = self._values
            for w in view.argv:
                mask |= values.get(w, 0) or ("=" in w and values.get(w.split("=", 1)[0], 0))
        found = self._by_mask.get(mask)
        if found is None:
            found = tuple(r for i, r in enumerate(self.rules) if mask >> i & 1)
            if len(self._by_mask) < 256:
                self._by_mask[mask] = found
        return found


def _not_plain(rule: Rule) -> bool:
    """Whether ``rule`` cannot match a command whose arguments are all static words that do
    not start with ``-`` (a *plain* :class:`View`): one of its conditions needs an option
    (every flag, option or pattern of the condition starts with ``-``) or a dynamic word."""

    def dashed(patterns: Patterns | None) -> bool:
        return patterns is not None and all(_needs_dash(p) for p in patterns.sources)

    def options(items: Iterable[str]) -> bool:
        found = list(items)
        return bool(found) and all(f.startswith("-") for f in found)

    return (
        rule.dynamic
        or options(rule.flags)
        or options(rule.all_flags)
        or options(rule.values_of)
        or any(dashed(p) for p in (rule.args, rule.argv, rule.first, rule.last))
    )


def _needs_dash(pattern: str) -> bool:
    """Whether every match of ``pattern`` (``search``) starts at a ``-`` at the start of the
    value: it starts ``^-`` (or ``^\\-``), the dash is not optional (``^-?x``) and there is no
    top-level alternation (``^-x|y``). False when unsure."""
    for head in ("^-", "^\\-"):
        if pattern.startswith(head):
            rest = pattern[len(head) :]
            break
    else:
        return False
    if rest[:1] in ("?", "*", "{"):
        return False
    depth, i = 0, 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 1
        elif c == "[":  # a class: `|` and parentheses inside are literal
            i = _class_end(pattern, i)
            if i < 0:
                return False
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif c == "|" and depth == 0:
            return False
        i += 1
    return True


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` that closes the class opened at ``start`` (-1: none)."""
    i = start + 1
    if pattern[i : i + 1] == "^":
        i += 1
    if pattern[i : i + 1] == "]":  # a `]` first in a class is literal
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    return -1


def caps_of(names: Any) -> int:
    out = 0
    for n in names:
        out |= int(Capability.parse(str(n)))
    return out


# a backreference or a group condition (group numbers change in an alternation)


_BACKREF = re.compile(r"\\[1-9]|\(\?P=|\(\?\(")
_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")


class Patterns:
    """The regexes of one rule condition: :meth:`any` tells whether one of them matches
    (``search``) one of the values. They are joined into one alternation, one search per value
    (a pattern that starts with global flags gets them scoped, ``(?i)x`` → ``(?i:x)``; one with
    a backreference stays apart)."""

    __slots__ = ("joined", "rest", "sources")

    def __init__(self, patterns: list[str]) -> None:
        self.sources = tuple(patterns)
        joinable = [_scoped(p) for p in patterns if not _BACKREF.search(p)]
        apart = [p for p in patterns if _BACKREF.search(p)]
        self.joined: re.Pattern[str] | None = None
        if len(joinable) == 1:
            self.joined = re.compile(joinable[0])
        elif joinable:
            try:
                self.joined = re.compile("|".join(f"(?:{p})" for p in joinable))
            except re.error:  # an invalid pattern (raised below), flags in the middle, …
                apart = list(patterns)
        self.rest = tuple(re.compile(p) for p in apart)

    def any(self, values: list[str]) -> bool:
        """Whether some pattern matches somewhere in some value."""
        joined, rest = self.joined, self.rest
        for v in values:
            if joined is not None and joined.search(v):
                return True
            for p in rest:
                if p.search(v):
                    return True
        return False


def _scoped(pattern: str) -> str:
    m = _GLOBAL_FLAGS.match(pattern)
    return pattern if m is None else f"(?{m.group(1)}:{pattern[m.end() :]})"


def _regexes(items: Any, system: str) -> Patterns | None:
    """The condition's patterns (``system`` names the system paths), None when it has none."""
    patterns = [system if str(p) == "system" else str(p) for p in items]
    return Patterns(patterns) if patterns else None
