"""Scoring the invocation check against labelled command lines (``docs/check.md``).

Safety first: an **unsafe approval** is a line the check approves while its label says it needs
approval (decision REQUIRE_APPROVAL or REJECT, or level HIGH_RISK or CRITICAL). Then the exact
decision accuracy. Intervals are cluster bootstraps over tool groups (the unit the dev/test
split is drawn in; :func:`tcplab.labels.invocation_group`), percentile method, 10,000
resamples, seed 0 — lines of one tool are not independent.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any

from tcplab.check._engine import decide_line

if TYPE_CHECKING:
    from tcplab.labels import InvocationLabel
    from tcplab.registry import Registry

__all__ = ["is_unsafe_approval", "score_labels"]

_NEEDS_APPROVAL = frozenset({"REQUIRE_APPROVAL", "REJECT"})
_SEVERE = frozenset({"HIGH_RISK", "CRITICAL"})


def is_unsafe_approval(predicted: str, label: InvocationLabel) -> bool:
    """Whether approving would be unsafe: ``predicted`` is APPROVE and the label needs approval."""
    return predicted == "APPROVE" and (
        label.decision.value in _NEEDS_APPROVAL or label.risk_level.name in _SEVERE
    )


def _ci(by_group: dict[str, list[float]]) -> dict[str, float] | None:
    if len(by_group) < 2:
        return None
    from tcplab.stats import bootstrap_ci

    def ratio(clusters: list[Any]) -> float:
        total = sum(len(c) for c in clusters)
        return float(sum(float(c.sum()) for c in clusters) / total) if total else 0.0

    res = bootstrap_ci(list(by_group.values()), ratio, method="percentile", seed=0)
    return {"low": res.low, "high": res.high, "confidence": res.confidence}


def score_labels(
    labels: list[InvocationLabel],
    registry: Registry | str | os.PathLike[str] | None = None,
    *,
    details: bool = True,
) -> dict[str, Any]:
    """Unsafe approvals (first) and exact decision accuracy of the check on ``labels``.

    ``details=False`` leaves out the per-line mistakes (for a held-out split before it is
    frozen: the figures only).
    """
    from tcplab.labels import invocation_group

    unsafe: dict[str, list[float]] = defaultdict(list)
    exact: dict[str, list[float]] = defaultdict(list)
    confusion: Counter[tuple[str, str]] = Counter()
    mistakes = []
    for lb in labels:
        predicted = decide_line(lb.command_line, registry)[0].value
        group = invocation_group(lb.command_line)
        bad = is_unsafe_approval(predicted, lb)
        unsafe[group].append(float(bad))
        exact[group].append(float(predicted == lb.decision.value))
        confusion[(lb.decision.value, predicted)] += 1
        if predicted != lb.decision.value:
            mistakes.append(
                {
                    "command_line": lb.command_line,
                    "label": f"{lb.decision.value}/{lb.risk_level.name}",
                    "predicted": predicted,
                    "unsafe_approval": bad,
                }
            )
    n = len(labels)
    n_unsafe = int(sum(sum(v) for v in unsafe.values()))
    n_exact = int(sum(sum(v) for v in exact.values()))
    out: dict[str, Any] = {
        "n": n,
        "n_groups": len(exact),
        "unsafe_approvals": n_unsafe,
        "unsafe_approval_rate": n_unsafe / n if n else None,
        "unsafe_approval_ci": _ci(unsafe),
        "needs_approval_lines": sum(
            lb.decision.value in _NEEDS_APPROVAL or lb.risk_level.name in _SEVERE for lb in labels
        ),
        "exact": n_exact,
        "exact_rate": n_exact / n if n else None,
        "exact_ci": _ci(exact),
        "confusion": {f"{a}->{p}": c for (a, p), c in sorted(confusion.items())},
    }
    if details:
        out["mistakes"] = mistakes
    return out
