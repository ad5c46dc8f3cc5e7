"""Invocation knowledge: the versioned YAML of tools, subcommands and flag patterns, compiled.

``tcplab/data/invocations/invocations_v1.yaml`` is the source (format in ``docs/check.md``).
A rule's conditions are ANDed; within one condition any listed item may match. ``system`` in
an ``args`` list stands for the file's ``system_paths`` pattern.
"""

from __future__ import annotations

import re
from collections.abc import Set as AbstractSet
from functools import lru_cache
from importlib import resources
from typing import Any

from tcplab.descriptor import Capability, RiskLevel
from tcplab.errors import TcplabError

__all__ = [
    "KNOWLEDGE_VERSION",
    "Knowledge",
    "Rule",
    "ToolSpec",
    "View",
    "check_keys",
    "load_knowledge",
    "more_severe",
    "severity",
]

KNOWLEDGE_VERSION = 1
_EFFECTS = ("set", "raise", "final")
_BOOLEAN = frozenset(
    {"-v", "-q", "-y", "-f", "-a", "-r", "-R", "-i", "--verbose", "--quiet", "--yes", "--force"}
    | {"--all", "--recursive", "--interactive"}
)
_NO_FLAGS: frozenset[str] = frozenset()
_LOWER_CLUSTER = 4  # longest cluster of letters whose letters a lowering rule trusts (-avzn)
# Unknown keys are errors: a misspelt condition (``flag:`` for ``flags:``) would otherwise be
# dropped and leave an unconditional rule — for ``set`` that could lower every invocation.
_RULE_KEYS = frozenset(
    {"effect", "level", "capabilities", "why", "source", "sub", "flags", "all_flags", "args"}
    | {
        "argv",
        "first",
        "last",
        "dynamic_arg",
        "unless_argv",
        "values",
        "leading",
        "max_operands",
        "min_operands",
    }
)
_TOOL_KEYS = frozenset(
    {"level", "capabilities", "why", "dynamic", "options_with_arg", "boolean_flags", "rules"}
)
_SEVERITY = {
    RiskLevel.SAFE: 0.0,
    RiskLevel.LOW_RISK: 1.0,
    RiskLevel.MEDIUM_RISK: 2.0,
    RiskLevel.UNKNOWN: 2.5,  # REQUIRE_APPROVAL, like HIGH, but a known HIGH says more
    RiskLevel.HIGH_RISK: 3.0,
    RiskLevel.CRITICAL: 4.0,
}


def severity(level: RiskLevel) -> float:
    """Order of levels by how careful the agent must be (UNKNOWN sits between MEDIUM and HIGH)."""
    return _SEVERITY[level]


def more_severe(a: RiskLevel, b: RiskLevel) -> RiskLevel:
    """The more severe of two levels (never lowers UNKNOWN to an approvable level)."""
    return a if _SEVERITY[a] >= _SEVERITY[b] else b


class View:
    """One simple command's arguments as the rules see them (options, operands, subcommand).

    ``shorts``/``longs`` are every flag present (``raise`` rules match them). A rule that can
    lower a level matches only ``shorts_lower``/``longs_lower``: flags that cannot be the value
    of the option before them (``mkfs.ext2 -L -n /dev/sdb1`` labels the volume "-n"; it is not
    a dry run). An option is taken as possibly value-taking unless the tool's ``known`` flags
    (those its rules name, its ``options_with_arg``, a few universal booleans) include it;
    ``-Enodiscard`` (a value attached) and clusters longer than four letters never count.
    A view is read-only: with no option and no dynamic word its lists are one shared list.
    """

    __slots__ = (
        "argv",
        "argv_lower",
        "dynamic",
        "lead",
        "longs",
        "longs_lower",
        "operands",
        "operands_lower",
        "shorts",
        "shorts_lower",
        "sub",
        "words",
    )

    argv: list[str]
    argv_lower: list[str]  # the words a lowering rule's argv patterns may match
    operands: list[str]
    operands_lower: list[str]  # operands that cannot be an option's value
    shorts: AbstractSet[str]
    shorts_lower: AbstractSet[str]
    longs: AbstractSet[str]
    longs_lower: AbstractSet[str]
    lead: int  # index in argv of the first operand (-1: none)
    sub: str | None

    def __init__(
        self,
        words: list[str | None],
        with_arg: frozenset[str] = _NO_FLAGS,
        known: frozenset[str] = _NO_FLAGS,
    ) -> None:
        self.words = words
        self.dynamic = False
        argv = words[1:]
        for w in argv:
            if w is None or w[:1] == "-":
                self._read(argv, with_arg, known)
                return
        # operands only (``git status``, ``ls src/``), the common case
        static: list[str] = argv  # type: ignore[assignment]  # no None in it
        self.argv = self.argv_lower = self.operands = self.operands_lower = static
        self.shorts = self.shorts_lower = self.longs = self.longs_lower = _NO_FLAGS
        self.lead = 0 if static else -1
        self.sub = static[0] if static else None

    def _read(
        self, args: list[str | None], with_arg: frozenset[str], known: frozenset[str]
    ) -> None:
        """The general case: options, their possible values, ``--``, dynamic words."""
        argv: list[str] = []
        argv_lower: list[str] = []
        operands: list[str] = []
        operands_lower: list[str] = []
        shorts: set[str] = set()
        shorts_lower: set[str] = set()
        longs: set[str] = set()
        longs_lower: set[str] = set()
        lead = -1
        skip = after_dd = doubt = False
        for w in args:
            if w is None:
                self.dynamic, skip, doubt = True, False, False
                continue
            argv.append(w)
            # a possible option value, or a declared one that looks like a flag (psql -T -l),
            # is not a flag for a lowering rule (a declared value such as -o /dev/null is seen)
            if not doubt and not (skip and w[:1] == "-"):
                argv_lower.append(w)
            if skip:
                skip = doubt = False
            elif after_dd or w == "-" or w[:1] != "-":
                if lead < 0:
                    lead = len(argv) - 1
                operands.append(w)
                if not doubt:
                    operands_lower.append(w)
                doubt = False
            elif w == "--":
                after_dd, doubt = True, False
            elif w[1] == "-":
                name, eq, _ = w.partition("=")
                longs.add(name)
                if not doubt:
                    longs_lower.add(name)
                skip = w in with_arg
                doubt = not eq and not skip and name not in known
            elif len(w) == 2:  # -x alone: the common case, inline
                c = w[1]
                shorts.add(c)
                if c.isalpha() and not doubt:
                    shorts_lower.add(c)
                skip = w in with_arg
                doubt = not skip and w not in known
            else:
                skip, doubt = _cluster(w, with_arg, known, doubt, shorts, shorts_lower)
        self.argv, self.argv_lower, self.lead = argv, argv_lower, lead
        self.operands, self.operands_lower = operands, operands_lower
        self.shorts, self.shorts_lower = shorts, shorts_lower
        self.longs, self.longs_lower = longs, longs_lower
        self.sub = operands[0] if operands else None

    def has_flag(self, flag: str, lower: bool = False) -> bool:
        """``--long`` (also as ``--long=value``), ``-x`` (also inside ``-xyz``), or ``-word``."""
        if flag.startswith("--"):
            return flag in (self.longs_lower if lower else self.longs)
        if len(flag) == 2:
            return flag[1] in (self.shorts_lower if lower else self.shorts)
        return flag in self.argv


def _cluster(
    word: str,
    with_arg: frozenset[str],
    known: frozenset[str],
    doubt: bool,
    shorts: set[str],
    shorts_lower: set[str],
) -> tuple[bool, bool]:
    """Read ``-xyz`` like getopt: a letter that takes a value ends the cluster (the rest is its
    value). Adds its letters to ``shorts`` (and ``shorts_lower`` when a lowering rule may trust
    them); returns (the next word is that value, the next word may be a value)."""
    letters = word[1:]
    if with_arg:
        for i, c in enumerate(letters):
            if "-" + c in with_arg:
                letters = letters[: i + 1]
                break
    shorts.update(letters)
    if not doubt and len(letters) <= _LOWER_CLUSTER and letters.isalpha():
        shorts_lower.update(letters)
    whole = len(letters) == len(word) - 1
    skip = whole and f"-{letters[-1:]}" in with_arg
    return skip, whole and not skip and f"-{letters[-1:]}" not in known


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
        "sub",
        "unless_argv",
        "values_of",
        "values_unless",
        "why",
    )

    def __init__(self, raw: dict[str, Any], name: str, system: str) -> None:
        effect = str(raw.get("effect", "raise"))
        if effect not in _EFFECTS:
            raise TcplabError(f"{name}: unknown effect {effect!r} (one of {', '.join(_EFFECTS)})")
        self.name, self.effect = name, effect
        self.level = RiskLevel.parse(str(raw["level"]))
        # a rule that can lower a level trusts only unambiguous short flags (View.shorts_lower);
        # ToolSpec clears this for a `set` above the tool's own level
        self.lower = effect != "raise"
        self.caps = _caps(raw.get("capabilities", ()))
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

    def _leads(self, view: View) -> bool:
        """One of the rule's flags is among the words before the first operand."""
        head = view.argv if view.lead < 0 else view.argv[: view.lead]
        for w in head:
            if w in self.flags or w.split("=", 1)[0] in self._longs:
                return True
            short = not w.startswith("--") and len(w) <= _LOWER_CLUSTER + 1 and w[1:].isalpha()
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


class ToolSpec:
    """What the knowledge file says about one tool."""

    __slots__ = (
        "_by_sub",
        "caps",
        "dynamic",
        "general",
        "known",
        "level",
        "name",
        "rules",
        "why",
        "with_arg",
    )

    def __init__(self, name: str, raw: dict[str, Any], system: str, defaults: list[Rule]) -> None:
        self.name = name
        self.level = RiskLevel.parse(str(raw.get("level", "UNKNOWN")))
        self.caps = _caps(raw.get("capabilities", ()))
        self.why = str(raw.get("why", ""))
        dyn = raw.get("dynamic")
        self.dynamic = RiskLevel.parse(str(dyn)) if dyn is not None else None
        self.with_arg = frozenset(str(o) for o in raw.get("options_with_arg", ()))
        own = [Rule(r, f"{name}#{i + 1}", system) for i, r in enumerate(raw.get("rules") or ())]
        for r in (*defaults, *own):  # the compiled path passes every rule as `defaults`
            if r.effect == "set" and severity(r.level) > severity(self.level):
                r.lower = False
        # options known not to take the next word as a value (see View)
        named = {f for r in (*defaults, *own) for f in (*r.flags, *r.all_flags)}
        boolean = {str(f) for f in raw.get("boolean_flags", ())}
        self.known = frozenset(named | self.with_arg | boolean | _BOOLEAN)
        self.rules = (*defaults, *own)
        # Precompiled per-subcommand tables: the rules that can match a given first operand.
        self.general = tuple(r for r in self.rules if not r.sub)
        subs = {s for r in self.rules for s in r.sub}
        self._by_sub = {s: tuple(r for r in self.rules if not r.sub or s in r.sub) for s in subs}

    def rules_for(self, sub: str | None) -> tuple[Rule, ...]:
        """The rules, in file order, that can match a command whose subcommand is ``sub``."""
        return self._by_sub.get(sub, self.general) if sub is not None else self.general


class Knowledge:
    """The compiled knowledge file: version and tool specs."""

    __slots__ = ("source", "system", "tools", "version")

    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.source = source
        self.version = int(raw.get("version", 0))
        if self.version != KNOWLEDGE_VERSION:
            raise TcplabError(f"{source}: version {self.version}, expected {KNOWLEDGE_VERSION}")
        system = str(raw.get("system_paths", "^/(etc|boot|usr|bin|sbin|lib)(/|$)"))
        self.system = re.compile(system)
        defaults = [
            Rule(r, f"defaults#{i + 1}", system) for i, r in enumerate(raw.get("defaults") or ())
        ]
        tools = raw.get("tools") or {}
        check_keys(tools, raw.get("defaults") or (), source)
        self.tools = {str(k): ToolSpec(str(k), v or {}, system, defaults) for k, v in tools.items()}


def check_keys(tools: dict[str, Any], defaults: Any, source: str) -> None:
    """Refuse unknown keys in the knowledge YAML.

    A misspelt condition (``flag:`` for ``flags:``) would otherwise be dropped and leave an
    unconditional rule — for ``set`` that could lower every invocation of the tool.
    """
    where = [(f"defaults[{i}]", r, _RULE_KEYS) for i, r in enumerate(defaults)]
    for name, spec in tools.items():
        where.append((f"tools.{name}", spec or {}, _TOOL_KEYS))
        rules = (spec or {}).get("rules") or ()
        where.extend((f"tools.{name}.rules[{i}]", r, _RULE_KEYS) for i, r in enumerate(rules))
    for place, item, allowed in where:
        unknown = set(item) - allowed if isinstance(item, dict) else {"(not a mapping)"}
        if unknown:
            raise TcplabError(f"{source}: {place}: unknown keys {sorted(unknown)}")


def _caps(names: Any) -> int:
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

    __slots__ = ("joined", "patterns", "rest")

    def __init__(self, patterns: list[str]) -> None:
        self.patterns = tuple(re.compile(p) for p in patterns)  # each one valid on its own
        joinable = [_scoped(p) for p in patterns if not _BACKREF.search(p)]
        rest = [re.compile(p) for p in patterns if _BACKREF.search(p)]
        self.joined: re.Pattern[str] | None = None
        if len(joinable) == 1:
            self.joined = re.compile(joinable[0])
        elif joinable:
            try:
                self.joined = re.compile("|".join(f"(?:{p})" for p in joinable))
            except re.error:  # flags in the middle of a pattern, …: each one apart
                rest = list(self.patterns)
        self.rest = tuple(rest)

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


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """The shipped knowledge file, parsed and compiled once per process."""
    import yaml

    name = f"invocations_v{KNOWLEDGE_VERSION}.yaml"
    path = resources.files("tcplab").joinpath(f"data/invocations/{name}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 7x faster start-up
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return Knowledge(raw, f"tcplab/data/invocations/{name}")
