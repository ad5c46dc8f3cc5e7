"""Decision scores of a run on invocation inputs (issue 16): the report's ``decisions`` section.

Every figure comes from :func:`tcplab.check.score_trials` (one function per number); this module
only reads the trials, orders the arms and turns the scores into report blocks. A tool run (no
trial carries a ``label_decision``) has no section: ``decisions`` is ``null``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tcplab.report._read import read_run_trials

__all__ = ["DECISION_COLUMNS", "decision_blocks", "decision_findings", "decision_summary"]

DECISION_COLUMNS = (
    "tool",
    "arm",
    "analyzer",
    "status",
    "predicted_risk",
    "decision",
    "label",
    "label_decision",
)
"""The trial columns :func:`tcplab.check.score_trials` reads."""

_HEADERS = {
    "unsafe_approval": "unsafe approvals [CI]",
    "critical_undercall": "critical under-calls [CI]",
    "friction": "friction [CI]",
    "exact": "exact decisions [CI]",
    "coverage": "coverage [CI]",
}
_METHOD = (
    "tcplab.check.score_trials: per arm, the share of its applicable trials; cluster "
    "bootstrap over tool groups (tcplab.labels.invocation_group), percentile, 10,000 "
    "resamples, seed 0"
)


def decision_summary(run_dir: Path, arm_order: list[str]) -> dict[str, Any] | None:
    """``summary.json``'s ``decisions``: :func:`score_trials` per arm in run order, or None
    for a run without invocation inputs.

    Raises:
        UsageError: unreadable trials.
    """
    from tcplab.check import TRIAL_METRICS, score_trials

    table = read_run_trials(run_dir, DECISION_COLUMNS)
    if table["label_decision"].null_count == table.num_rows:
        return None
    scores = score_trials(table)
    order = [a for a in arm_order if a in scores] + [a for a in scores if a not in arm_order]
    return {
        "unit": "trials of labelled command lines (label_decision)",
        "method": _METHOD,
        "metrics": list(TRIAL_METRICS),
        "arm_order": order,
        "arms": {a: scores[a] for a in order},
    }


def _cell(d: dict[str, Any]) -> str:
    if d.get("rate") is None:
        return "—"
    text = f"{d['count']}/{d['n']} = {100 * d['rate']:.1f}%"
    ci = d.get("ci")
    if ci is None:
        return f"{text} (CI not available)"
    return f"{text} [{100 * ci['low']:.1f}%, {100 * ci['high']:.1f}%]"


def decision_findings(decisions: dict[str, Any] | None) -> list[str]:
    """The key results on decisions (unsafe approvals first, then exact decisions)."""
    if not decisions:
        return []
    out = []
    for metric, what in (("unsafe_approval", "Unsafe approvals"), ("exact", "Exact decisions")):
        for arm in decisions["arm_order"]:
            out.append(f"{what} {arm} (decisions): {_cell(decisions['arms'][arm][metric])}.")
    return out


def decision_blocks(decisions: dict[str, Any] | None) -> list[tuple[Any, ...]]:
    """The decision table (unsafe approvals first), or nothing for a tool run."""
    if not decisions:
        return []
    rows = []
    for arm in decisions["arm_order"]:
        s = decisions["arms"][arm]
        head = [arm, str(s["analyzer"]), str(s["n_trials"]), str(s["n_lines"]), str(s["n_groups"])]
        rows.append(head + [_cell(s[m]) for m in decisions["metrics"]])
    return [
        ("h3", "Decisions on command lines (unsafe approvals first)"),
        (
            "p",
            "Each trial's decision against the line's labelled decision, over every trial. "
            "Unsafe approval: APPROVE for a line labelled REQUIRE_APPROVAL or REJECT (or "
            "HIGH_RISK/CRITICAL). Critical under-call: a line labelled REJECT not REJECTed. "
            "Friction: a line labelled APPROVE not APPROVEd. Exact: status OK and the labelled "
            "decision. Coverage: status OK and a known level. A failed trial counts as "
            "REQUIRE_APPROVAL, never as an approval. Figures: count/n = rate [CI], "
            f"{_METHOD}. The level tables below score each line's risk level as for tools.",
        ),
        (
            "table",
            ["arm", "analyzer", "trials", "lines", "groups"]
            + [_HEADERS[m] for m in decisions["metrics"]],
            rows,
        ),
    ]
