"""Invocation label files (issue 16): one row per command line, with the decision and level.

Format: CSV with header ``command_line,decision,risk_level,capabilities,rationale,labeler``;
decision is APPROVE, CAUTION, REQUIRE_APPROVAL or REJECT; risk_level SAFE..CRITICAL, or
UNKNOWN (only with REQUIRE_APPROVAL: a line the labeler could not resolve); capabilities are
``|``-separated names from ``docs/format.md``.

The dev/test split is **by tool group**, not by line (:func:`invocation_split_of`): the group is
the first word of the line (its basename, quotes removed), so every ``git …`` line lands on the
same side. Tuning a tool's flag rules on dev lines therefore cannot leak into near-duplicate test
lines of the same tool; the test figure says how rules written without seeing a tool's labels
do. 40% of the groups are test (SHA-256 of a salted group name), fixed before any label was read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tcplab.descriptor import Capability, Decision, RiskLevel
from tcplab.errors import LabelsError
from tcplab.labels._common import (
    LabelFile,
    capability_names,
    check_file,
    header_problems,
    read_bytes,
)
from tcplab.labels._io import Split

__all__ = [
    "INVOCATION_COLUMNS",
    "INVOCATION_SPLIT_SALT",
    "INVOCATION_TEST_PERCENT",
    "InvocationLabel",
    "InvocationLabelSet",
    "check_invocation_labels",
    "invocation_agreement",
    "invocation_group",
    "invocation_split_of",
    "is_invocation_file",
    "read_invocation_labels",
]

INVOCATION_COLUMNS = (
    "command_line",
    "decision",
    "risk_level",
    "capabilities",
    "rationale",
    "labeler",
)
INVOCATION_SPLIT_SALT = "tcplab-invocation-split-v1:"
INVOCATION_TEST_PERCENT = 40
_FIRST = re.compile(r"\S+")


def invocation_group(command_line: str) -> str:
    """The line's tool group: the basename of its first word, quotes removed (``""`` if none)."""
    m = _FIRST.search(command_line)
    if m is None:
        return ""
    word = m.group().strip("'\"")
    return word.rsplit("/", 1)[-1] if "/" in word.rstrip("/") else word


def invocation_split_of(command_line: str) -> Split:
    """``test`` when the first 8 hex digits of SHA-256(salt + group) mod 100 are below 40."""
    key = (INVOCATION_SPLIT_SALT + invocation_group(command_line)).encode("utf-8")
    value = int(hashlib.sha256(key).hexdigest()[:8], 16) % 100
    return "test" if value < INVOCATION_TEST_PERCENT else "dev"


@dataclass(frozen=True, slots=True)
class InvocationLabel:
    """One labelled command line."""

    command_line: str
    decision: Decision
    risk_level: RiskLevel
    capabilities: frozenset[str]
    rationale: str
    labeler: str
    line: int

    @property
    def split(self) -> Split:
        """``dev`` or ``test`` (see :func:`invocation_split_of`)."""
        return invocation_split_of(self.command_line)


@dataclass(frozen=True)
class InvocationLabelSet(LabelFile[InvocationLabel]):
    """A checked invocation labels file: labels by command line, plus the file's SHA-256."""

    def subset(self, split: Split | None) -> list[InvocationLabel]:
        """Labels of one split (or all, for None), in file order."""
        return [lb for lb in self.labels.values() if split is None or lb.split == split]


def _row(rec: dict[str, str | None], line: int, problems: list[str]) -> InvocationLabel | None:
    def field(name: str) -> str:
        return (rec.get(name) or "").strip()

    command, decision, level = (
        (rec.get("command_line") or ""),
        field("decision"),
        field("risk_level"),
    )
    before = len(problems)
    if not command.strip():
        problems.append(f"line {line}: empty command_line")
    if decision not in Decision.__members__:
        problems.append(
            f"line {line}: unknown decision {decision!r}; known: {', '.join(Decision.__members__)}"
        )
    if level not in RiskLevel.__members__:
        problems.append(f"line {line}: unknown risk level {level!r}")
    elif level == "UNKNOWN" and decision != "REQUIRE_APPROVAL":
        problems.append(f"line {line}: risk level UNKNOWN needs decision REQUIRE_APPROVAL")
    caps = frozenset(capability_names(field("capabilities")))
    for cap in sorted(caps - set(Capability.__members__)):
        problems.append(f"line {line}: unknown capability {cap!r}")
    for name in ("rationale", "labeler"):
        if not field(name):
            problems.append(f"line {line}: empty {name}")
    if len(problems) > before:
        return None
    return InvocationLabel(
        command,
        Decision[decision],
        RiskLevel[level],
        caps,
        field("rationale"),
        field("labeler"),
        line,
    )


def _parse(text: str) -> tuple[dict[str, InvocationLabel], list[str]]:
    reader = csv.DictReader(io.StringIO(text))
    header = header_problems(reader.fieldnames, INVOCATION_COLUMNS)
    if header:
        return {}, header
    labels: dict[str, InvocationLabel] = {}
    problems: list[str] = []
    for rec in reader:
        label = _row(rec, reader.line_num, problems)
        if label is None:
            continue
        first = labels.get(label.command_line)
        if first is not None:
            problems.append(
                f"line {label.line}: duplicate command line (first on line {first.line})"
            )
            continue
        labels[label.command_line] = label
    return labels, problems


def is_invocation_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file's header names ``command_line`` (an invocation label file)."""
    head = read_bytes(Path(path))[:4096].decode("utf-8-sig", "replace").splitlines()[:1]
    return bool(head) and "command_line" in head[0].split(",")


def check_invocation_labels(path: str | os.PathLike[str]) -> list[str]:
    """Every problem in an invocation labels file, each naming its line; empty when good."""
    return check_file(path, _parse)


def read_invocation_labels(path: str | os.PathLike[str]) -> InvocationLabelSet:
    """Read and check an invocation labels file.

    Raises:
        LabelsError: the file is missing or has problems; ``problems`` lists all of them.
    """
    return InvocationLabelSet.load(Path(path), _parse, "invocation labels file")


_LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
_DECISIONS = list(Decision)


def invocation_agreement(a: InvocationLabelSet, b: InvocationLabelSet) -> dict[str, object]:
    """Two labelers on their common command lines: exact decision agreement (and Cohen's κ on
    decisions), exact level agreement and quadratic-weighted κ on levels (rows where both gave
    a known level), and the disagreements.

    Raises:
        LabelsError: the two files share no command line.
    """
    from tcplab.stats import cohen_kappa

    common = [c for c in a.labels if c in b.labels]
    if not common:
        raise LabelsError(f"nothing to compare: {a.path} and {b.path} share no command line")
    da = [_DECISIONS.index(a.labels[c].decision) for c in common]
    db = [_DECISIONS.index(b.labels[c].decision) for c in common]
    known = [
        c
        for c in common
        if RiskLevel.UNKNOWN not in (a.labels[c].risk_level, b.labels[c].risk_level)
    ]
    la = [int(a.labels[c].risk_level) for c in known]
    lb = [int(b.labels[c].risk_level) for c in known]
    levels = [int(lv) for lv in _LEVELS]
    decisions = list(range(len(_DECISIONS)))
    return {
        "n_common": len(common),
        "only_a": len(a.labels) - len(common),
        "only_b": len(b.labels) - len(common),
        "decision_exact": sum(x == y for x, y in zip(da, db, strict=True)) / len(common),
        "decision_kappa": float(cohen_kappa(da, db, labels=decisions)),
        "n_known_levels": len(known),
        "level_exact": sum(x == y for x, y in zip(la, lb, strict=True)) / len(known)
        if known
        else None,
        "level_kappa_quadratic": float(cohen_kappa(la, lb, labels=levels, weights="quadratic"))
        if known
        else None,
        "disagreements": [
            {
                "command_line": c,
                "a": f"{a.labels[c].decision.value}/{a.labels[c].risk_level.name}",
                "b": f"{b.labels[c].decision.value}/{b.labels[c].risk_level.name}",
            }
            for c in common
            if (a.labels[c].decision, a.labels[c].risk_level)
            != (b.labels[c].decision, b.labels[c].risk_level)
        ],
    }
