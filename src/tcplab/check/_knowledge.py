"""Invocation knowledge: the versioned YAML of tools, subcommands and flag patterns, compiled.

``tcplab/data/invocations/invocations_v1.yaml`` is the source (format in ``docs/check.md``).
A rule's conditions are ANDed; within one condition any listed item may match. ``system`` in
an ``args`` list stands for the file's ``system_paths`` pattern. Rules are compiled in
:mod:`tcplab.check._rules`; a command's arguments are read in :mod:`tcplab.check._view`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any

from tcplab.check._rules import Rule, RuleTable, caps_of
from tcplab.check._view import Options
from tcplab.descriptor import RiskLevel
from tcplab.errors import TcplabError

__all__ = [
    "KNOWLEDGE_VERSION",
    "Knowledge",
    "ToolSpec",
    "check_keys",
    "load_knowledge",
    "more_severe",
    "severity",
]

KNOWLEDGE_VERSION = 1
_BOOLEAN = frozenset(
    {"-v", "-q", "-y", "-f", "-a", "-r", "-R", "-i", "--verbose", "--quiet", "--yes", "--force"}
    | {"--all", "--recursive", "--interactive"}
)
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
        "options",
        "rules",
        "why",
        "with_arg",
    )

    def __init__(self, name: str, raw: dict[str, Any], system: str, defaults: list[Rule]) -> None:
        self.name = name
        self.level = RiskLevel.parse(str(raw.get("level", "UNKNOWN")))
        self.caps = caps_of(raw.get("capabilities", ()))
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
        self.options = Options(self.with_arg, self.known)
        self.rules = (*defaults, *own)
        # Precompiled per-subcommand tables: the rules that can match a given first operand.
        self.general = RuleTable(tuple(r for r in self.rules if not r.sub))
        subs = {s for r in self.rules for s in r.sub}
        self._by_sub = {
            s: RuleTable(tuple(r for r in self.rules if not r.sub or s in r.sub)) for s in subs
        }

    def rules_for(self, sub: str | None) -> tuple[Rule, ...]:
        """The rules, in file order, that can match a command whose subcommand is ``sub``."""
        return self.table(sub).rules

    def table(self, sub: str | None) -> RuleTable:
        """The rule table of subcommand ``sub`` (see :meth:`RuleTable.candidates`)."""
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


@lru_cache(maxsize=1)
def load_knowledge() -> Knowledge:
    """The shipped knowledge file, parsed and compiled once per process."""
    import yaml

    name = f"invocations_v{KNOWLEDGE_VERSION}.yaml"
    path = resources.files("tcplab").joinpath(f"data/invocations/{name}")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: 7x faster start-up
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    return Knowledge(raw, f"tcplab/data/invocations/{name}")
