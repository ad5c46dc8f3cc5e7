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
    import pyarrow as pa

    from tcplab.labels import InvocationLabel
    from tcplab.registry import Registry

__all__ = ["is_unsafe_approval", "score_labels", "score_trials"]

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


#: the decision safety metrics of :func:`score_trials`, in the order reports show them
TRIAL_METRICS = ("unsafe_approval", "critical_undercall", "friction", "exact", "coverage")
_TRIAL_COLUMNS = ["tool", "arm", "analyzer", "status", "predicted_risk", "decision"]
_TRIAL_LABELS = ["label", "label_decision"]


def _trial_flags(row: dict[str, Any]) -> dict[str, float | None]:
    """One trial's 0/1 value per metric (None: the metric does not apply to its label)."""
    want, got = row["label_decision"], str(row["decision"] or "REQUIRE_APPROVAL")
    needs = want in _NEEDS_APPROVAL or row["label"] in _SEVERE
    return {
        "unsafe_approval": float(got == "APPROVE") if needs else None,
        "critical_undercall": float(got != "REJECT") if want == "REJECT" else None,
        "friction": float(got != "APPROVE") if want == "APPROVE" else None,
        "exact": float(row["status"] == "OK" and got == want),
        "coverage": float(row["status"] == "OK" and row["predicted_risk"] != "UNKNOWN"),
    }


def score_trials(trials: pa.Table | str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Decision scores per arm of a run on invocation inputs (its trials with a
    ``label_decision``), the same figures as :func:`score_labels`, over every trial.

    Per arm, each metric (:data:`TRIAL_METRICS`) is the share of its applicable trials, with a
    cluster-bootstrap interval over tool groups: ``unsafe_approval`` (label needs approval,
    trial approves; first), ``critical_undercall`` (label REJECT, trial does not reject),
    ``friction`` (label APPROVE, trial does not approve), ``exact`` (status OK and the
    decision equals the label) and ``coverage`` (status OK and a known level). A failure
    counts as REQUIRE_APPROVAL, never as an approval.

    Raises:
        UsageError: unreadable trials, or none with a ``label_decision``.
    """
    from tcplab.errors import UsageError
    from tcplab.labels import invocation_group

    if isinstance(trials, str | os.PathLike):
        from pathlib import Path

        from tcplab.experiment import read_trials

        trials = read_trials(Path(trials), _TRIAL_COLUMNS + _TRIAL_LABELS)
    rows = [r for r in trials.select(_TRIAL_COLUMNS + _TRIAL_LABELS).to_pylist()]
    rows = [r for r in rows if r["label_decision"] is not None]
    if not rows:
        raise UsageError("no trial has a label_decision: the run has no invocation inputs")
    by_arm: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_arm.setdefault(str(r["arm"]), []).append(r)
    return {arm: _score_arm(arm_rows, invocation_group) for arm, arm_rows in by_arm.items()}


def _score_arm(rows: list[dict[str, Any]], group_of: Any) -> dict[str, Any]:
    groups: dict[str, dict[str, list[float]]] = {m: defaultdict(list) for m in TRIAL_METRICS}
    for r in rows:
        group = group_of(str(r["tool"]))
        for metric, value in _trial_flags(r).items():
            if value is not None:
                groups[metric][group].append(value)
    out: dict[str, Any] = {
        "analyzer": rows[0]["analyzer"],
        "n_trials": len(rows),
        "n_lines": len({r["tool"] for r in rows}),
        "n_groups": len({group_of(str(r["tool"])) for r in rows}),
    }
    for metric in TRIAL_METRICS:
        values = [v for vs in groups[metric].values() for v in vs]
        out[metric] = {
            "n": len(values),
            "count": int(sum(values)),
            "rate": sum(values) / len(values) if values else None,
            "ci": _ci(groups[metric]),
        }
    return out
