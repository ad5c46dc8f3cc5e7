"""Agreement between two labelers (inter-rater reliability of the ground truth)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from tcplab.descriptor import RiskLevel
from tcplab.errors import LabelsError
from tcplab.labels._io import LabelSet
from tcplab.stats import cohen_kappa, confusion_matrix

__all__ = ["AgreementReport", "agreement"]

LEVELS = [lv for lv in RiskLevel if lv is not RiskLevel.UNKNOWN]


@dataclass(frozen=True)
class AgreementReport:
    """How two labelers agree on the commands both labeled.

    Attributes:
        n_common: commands labeled by both; ``only_a`` / ``only_b``: labeled by one only.
        exact: fraction of common commands with the same level.
        within_one: fraction whose levels differ by at most one step.
        kappa / kappa_quadratic: Cohen's κ, unweighted and quadratic-weighted (ordinal levels).
        confusion: rows = labeler A's level, columns = B's, in order SAFE..CRITICAL.
        capability_agreement: per capability, the fraction of common commands where both agree
            on whether it is set.
    """

    n_common: int
    only_a: list[str]
    only_b: list[str]
    exact: float
    within_one: float
    kappa: float
    kappa_quadratic: float
    confusion: list[list[int]]
    disagreements: list[tuple[str, str, str]] = field(default_factory=list)
    capability_agreement: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; a rate that is not a finite number is ``None`` (never NaN)."""
        return {
            "n_common": self.n_common,
            "only_a": self.only_a,
            "only_b": self.only_b,
            "exact": _finite(self.exact),
            "within_one": _finite(self.within_one),
            "kappa": _finite(self.kappa),
            "kappa_quadratic": _finite(self.kappa_quadratic),
            "levels": [lv.name for lv in LEVELS],
            "confusion": self.confusion,
            "disagreements": [{"command": c, "a": a, "b": b} for c, a, b in self.disagreements],
            "capability_agreement": {k: _finite(v) for k, v in self.capability_agreement.items()},
        }


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def agreement(a: LabelSet, b: LabelSet) -> AgreementReport:
    """Compare two label sets on their common commands.

    Cohen's κ (Cohen 1960) and quadratic-weighted κ (Cohen 1968) via :mod:`tcplab.stats`.

    Raises:
        LabelsError: the two sets share no command, so there is nothing to compare (every
            rate would be undefined).
    """
    common = sorted(set(a.labels) & set(b.labels))
    if not common:
        raise LabelsError(
            f"nothing to compare: {a.path} ({len(a)} labels) and {b.path} ({len(b)} labels) "
            "share no command"
        )
    ya = [int(a.labels[c].risk_level) for c in common]
    yb = [int(b.labels[c].risk_level) for c in common]
    levels = [int(lv) for lv in LEVELS]
    cm = confusion_matrix(ya, yb, levels)
    caps: dict[str, float] = {}
    for cap in (
        "REQUIRES_ROOT",
        "DESTRUCTIVE",
        "NETWORK_ACCESS",
        "FILE_MODIFICATION",
        "SYSTEM_MODIFICATION",
        "PRIVILEGE_ESCALATION",
    ):
        same = sum(
            (cap in a.labels[c].capabilities) == (cap in b.labels[c].capabilities) for c in common
        )
        caps[cap] = same / len(common)
    return AgreementReport(
        n_common=len(common),
        only_a=sorted(set(a.labels) - set(b.labels)),
        only_b=sorted(set(b.labels) - set(a.labels)),
        exact=sum(x == y for x, y in zip(ya, yb, strict=True)) / len(common),
        within_one=sum(abs(x - y) <= 1 for x, y in zip(ya, yb, strict=True)) / len(common),
        kappa=cohen_kappa(ya, yb, labels=levels),
        kappa_quadratic=cohen_kappa(ya, yb, labels=levels, weights="quadratic"),
        confusion=cm.tolist(),
        disagreements=[
            (c, a.labels[c].risk_level.name, b.labels[c].risk_level.name)
            for c in common
            if a.labels[c].risk_level is not b.labels[c].risk_level
        ],
        capability_agreement=caps,
    )
