"""Apply a :class:`RuleSet` to one tool's documentation: level, capabilities, explanation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tcplab.descriptor import Capability, RiskLevel
from tcplab.rules._model import RuleSet, _Rule, load_rules

__all__ = ["DESCRIPTION_CHARS", "Firing", "RuleEngine", "RuleVerdict", "name_entry"]

DESCRIPTION_CHARS = 600
"""Only the opening of DESCRIPTION is read: later paragraphs describe edge cases and options."""

_ENTRY = re.compile(r"([\w.+\-]+(?:\s*,\s*[\w.+\-]+)*)\s+(?:-|—|–|\\-)+\s+")


def name_entry(tool: str, name_section: str) -> str:
    """The ``names - description`` entry of a NAME section that belongs to ``tool``.

    Pages shared by several commands (``gzip, gunzip, zcat - ...``; ``bzip2 ... bzcat - ...``)
    list several entries; the one naming ``tool`` is used, else the first.
    """
    text = " ".join(name_section.split())
    matches = list(_ENTRY.finditer(text))
    if not matches:
        return text
    entries = []
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        names = {n.strip().lower() for n in m.group(1).split(",")}
        entries.append((names, text[m.start() : end].strip()))
    for i, (names, entry) in enumerate(entries):
        if tool.lower() in names:
            # "lz4 - lz4, unlz4, lz4cat - Compress ...": an entry with no words of its own
            # continues in the next one.
            if len(entry.split()) - len(names) < 3 and i + 1 < len(entries):
                return f"{entry} {entries[i + 1][1]}"
            return entry
    return entries[0][1]


@dataclass(frozen=True, slots=True)
class Firing:
    """One rule that fired: where, and on which text."""

    rule: str
    kind: str  # "level" or "capability"
    section: str
    matched: str
    level: str | None = None
    capabilities: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "rule": self.rule,
            "kind": self.kind,
            "section": self.section,
            "matched": self.matched,
            "level": self.level,
            "capabilities": list(self.capabilities),
        }


@dataclass(frozen=True)
class RuleVerdict:
    """The rule engine's answer for one tool."""

    tool: str
    level: RiskLevel
    capabilities: tuple[str, ...]
    fired: tuple[Firing, ...] = field(default_factory=tuple)
    reason: str = ""

    def explanation(self) -> str:
        """One readable line: which rules fired on what."""
        if not self.fired:
            return self.reason
        parts = [f"{f.rule}@{f.section}:'{f.matched}'" for f in self.fired]
        return f"{self.reason}; " + ", ".join(parts) if self.reason else ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``--explain`` record)."""
        return {
            "tool": self.tool,
            "risk_level": self.level.name,
            "capabilities": list(self.capabilities),
            "reason": self.reason,
            "fired": [f.to_dict() for f in self.fired],
        }


class RuleEngine:
    """Rule-based analysis of documentation (the ``rules`` arm and the descriptor generator)."""

    def __init__(self, rules: RuleSet | None = None) -> None:
        self.rules = rules if rules is not None else load_rules()
        self._default = RiskLevel[self.rules.default_level]
        self._used = frozenset(
            s for r in [*self.rules.level_rules, *self.rules.capability_rules] for s in r.sections
        )

    @staticmethod
    def texts(
        tool: str, sections: Mapping[str, str], path: str = "", used: frozenset[str] | None = None
    ) -> dict[str, str]:
        """The texts rules look at, by section name (only the ``used`` ones when given)."""
        makers: dict[str, Callable[[], str]] = {
            "NAME": lambda: name_entry(tool, sections.get("NAME", "")),
            "SYNOPSIS": lambda: " ".join(sections.get("SYNOPSIS", "")[:4000].split())[
                :DESCRIPTION_CHARS
            ],
            "DESCRIPTION": lambda: " ".join(sections.get("DESCRIPTION", "")[:4000].split())[
                :DESCRIPTION_CHARS
            ],
            "OPTIONS": lambda: " ".join(sections.get("OPTIONS", "").split()),
            "PATH": lambda: path,
            "COMMAND": lambda: tool,
        }
        return {k: make() for k, make in makers.items() if used is None or k in used}

    @staticmethod
    def _fire(rule: _Rule, texts: Mapping[str, str]) -> tuple[str, str] | None:
        for section in rule.sections:
            text = texts.get(section, "")
            m = rule.pattern.search(text)
            if m and not (rule.veto and rule.veto.search(text)):
                return section, m.group(0)[:80]
        return None

    def assess(self, tool: str, sections: Mapping[str, str], path: str = "") -> RuleVerdict:
        """Risk level and capabilities of ``tool`` from its documentation sections.

        No documentation at all gives UNKNOWN (never SAFE).
        """
        if not any(v.strip() for v in sections.values()):
            return RuleVerdict(tool, RiskLevel.UNKNOWN, (), (), "no documentation")
        texts = self.texts(tool, sections, path, self._used)
        fired: list[Firing] = []
        level = self._default
        caps: set[str] = set()
        reason = f"no level rule fired: default {self._default.name}"
        for rule in self.rules.level_rules:
            hit = self._fire(rule, texts)
            if hit:
                level = RiskLevel[rule.level]
                caps.update(rule.capabilities)
                fired.append(
                    Firing(rule.id, "level", hit[0], hit[1], rule.level, tuple(rule.capabilities))
                )
                reason = ""
                break
        for crule in self.rules.capability_rules:
            hit = self._fire(crule, texts)
            if hit:
                caps.update(crule.capabilities)
                fired.append(
                    Firing(crule.id, "capability", hit[0], hit[1], None, tuple(crule.capabilities))
                )
        ordered = tuple(str(c.name) for c in Capability if c.name in caps)
        return RuleVerdict(tool, level, ordered, tuple(fired), reason)
