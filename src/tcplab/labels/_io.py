"""Ground-truth label files (``labels.csv``): reading, checking, and the dev/test split.

Format: CSV with header ``command,risk_level,capabilities,rationale,labeler``; capabilities are
``|``-separated names from ``docs/format.md``; risk_level is one of SAFE, LOW_RISK, MEDIUM_RISK,
HIGH_RISK, CRITICAL (UNKNOWN is not a label: a labeler who cannot decide leaves the tool out).
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tcplab.descriptor import Capability, RiskLevel
from tcplab.labels._common import (
    LabelFile,
    capability_names,
    check_file,
    header_problems,
)

__all__ = [
    "COLUMNS",
    "SPLIT_SALT",
    "TEST_FRACTION_PERCENT",
    "Label",
    "LabelSet",
    "Split",
    "check_labels",
    "read_labels",
    "split_of",
]

COLUMNS = ("command", "risk_level", "capabilities", "rationale", "labeler")
SPLIT_SALT = "tcplab-split-v1:"
TEST_FRACTION_PERCENT = 30
Split = Literal["dev", "test"]


def split_of(command: str) -> Split:
    """The fixed dev/test split: ``test`` when the first 8 hex digits of
    SHA-256(``"tcplab-split-v1:" + command``) modulo 100 are below 30, else ``dev``.

    Depends only on the command name, so adding tools never moves existing ones.
    """
    digest = hashlib.sha256((SPLIT_SALT + command).encode("utf-8")).hexdigest()
    return "test" if int(digest[:8], 16) % 100 < TEST_FRACTION_PERCENT else "dev"


@dataclass(frozen=True, slots=True)
class Label:
    """One labeled tool."""

    command: str
    risk_level: RiskLevel
    capabilities: frozenset[str]
    rationale: str
    labeler: str
    line: int

    @property
    def split(self) -> Split:
        """``dev`` or ``test`` (see :func:`split_of`)."""
        return split_of(self.command)


@dataclass(frozen=True)
class LabelSet(LabelFile[Label]):
    """A checked labels file: labels by command, plus the file's SHA-256."""

    def __contains__(self, command: object) -> bool:
        return command in self.labels

    def get(self, command: str) -> Label | None:
        """The label of ``command`` or None."""
        return self.labels.get(command)

    def subset(self, split: Split | None) -> list[Label]:
        """Labels of one split (or all, for None), in command order."""
        return sorted(
            (lb for lb in self.labels.values() if split is None or lb.split == split),
            key=lambda lb: lb.command,
        )


def _parse(text: str) -> tuple[dict[str, Label], list[str]]:
    problems: list[str] = []
    labels: dict[str, Label] = {}
    seen: dict[str, int] = {}
    reader = csv.DictReader(io.StringIO(text))
    header = header_problems(reader.fieldnames, COLUMNS)
    if header:
        return {}, header
    valid_levels = [lv.name for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]
    for rec in reader:
        line = reader.line_num
        command = (rec.get("command") or "").strip()
        level_text = (rec.get("risk_level") or "").strip()
        caps_text = (rec.get("capabilities") or "").strip()
        rationale = (rec.get("rationale") or "").strip()
        labeler = (rec.get("labeler") or "").strip()
        row_ok = True
        if not command:
            problems.append(f"line {line}: empty command")
            row_ok = False
        elif command in seen:
            problems.append(
                f"line {line}: duplicate command {command!r} (first on line {seen[command]})"
            )
            row_ok = False
        else:
            seen[command] = line
        if level_text not in valid_levels:
            problems.append(
                f"line {line}: unknown risk level {level_text!r}; known: {', '.join(valid_levels)}"
            )
            row_ok = False
        caps: set[str] = set()
        for cap in capability_names(caps_text):
            if cap not in Capability.__members__:
                known = ", ".join(Capability.__members__)
                problems.append(f"line {line}: unknown capability {cap!r}; known: {known}")
                row_ok = False
            caps.add(cap)
        if not rationale:
            problems.append(f"line {line}: empty rationale for {command!r}")
            row_ok = False
        if not labeler:
            problems.append(f"line {line}: empty labeler for {command!r}")
            row_ok = False
        if row_ok:
            labels[command] = Label(
                command, RiskLevel[level_text], frozenset(caps), rationale, labeler, line
            )
    return labels, problems


def check_labels(path: str | os.PathLike[str]) -> list[str]:
    """Every problem in a labels file, each naming its line; empty when the file is good."""
    return check_file(path, _parse)


def read_labels(path: str | os.PathLike[str]) -> LabelSet:
    """Read and check a labels file (an invocation labels file gives one label per line).

    Raises:
        LabelsError: the file is missing or has problems; ``problems`` lists all of them.
    """
    p = Path(path)
    from tcplab.labels._invocations import is_invocation_file, read_invocation_labels

    if is_invocation_file(p):  # command lines (issue 16): one label per line, keyed by it
        inv = read_invocation_labels(p)
        by_line = {
            lb.command_line: Label(
                lb.command_line, lb.risk_level, lb.capabilities, lb.rationale, lb.labeler, lb.line
            )
            for lb in inv
            if lb.risk_level is not RiskLevel.UNKNOWN  # not a level: left out, as for tools
        }
        return LabelSet(p, inv.sha256, by_line)
    return LabelSet.load(p, _parse, "labels file")
