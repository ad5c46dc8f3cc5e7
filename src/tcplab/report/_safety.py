"""Per-tool decision safety and coverage–accuracy blocks of tool runs."""

from __future__ import annotations

from typing import Any

from tcplab.report._fmt import ci as _ci
from tcplab.report._fmt import pct as _pct

__all__ = ["curve_tables", "safety_findings", "safety_tables"]

Block = tuple[Any, ...]


def safety_findings(summary: dict[str, Any]) -> list[str]:
    out = []
    for arm, v in summary["arms"].items():
        d = (v.get("safety") or {}).get("unsafe_approval_rate") or {}
        if d.get("estimate") is None:
            continue
        out.append(
            f"Unsafe approvals {arm}: {_ci(d, _pct)} of the trials of the "
            f"{d.get('n_tools', 0)} tools labelled HIGH_RISK or CRITICAL were APPROVEd."
        )
    return out


def safety_tables(arms: dict[str, Any]) -> list[Block]:
    rows = []
    for a, v in arms.items():
        sf = v.get("safety") or {}
        cells = [a]
        for m in ("unsafe_approval_rate", "critical_undercall_rate", "friction_rate", "coverage"):
            d = sf.get(m) or {}
            n = d.get("n_tools", 0)
            cells.append(f"{_ci(d, _pct)} (n={n})" if d.get("estimate") is not None else "—")
        rows.append(cells)
    return [
        ("h3", "Decision safety (unsafe approvals first)"),
        (
            "p",
            "Per tool, the share of its trials with that decision; each rate is the mean over "
            "the tools it concerns, with a bootstrap CI over tools. Unsafe approval: decision "
            "APPROVE for a tool labelled HIGH_RISK or CRITICAL. Critical under-call: a tool "
            "labelled CRITICAL not REJECTed. Friction: a tool labelled SAFE or LOW_RISK not "
            "APPROVEd. Coverage: trials that name a risk level (not UNKNOWN or PARSE_FAILURE).",
        ),
        (
            "table",
            [
                "arm",
                "unsafe approvals [CI]",
                "critical under-calls [CI]",
                "friction [CI]",
                "coverage [CI]",
            ],
            rows,
        ),
    ]


def curve_tables(arms: dict[str, Any]) -> list[Block]:
    """Coverage–accuracy of the arms whose answers carry a confidence (learned registries)."""
    curves = {a: v["coverage_curve"] for a, v in arms.items() if v.get("coverage_curve")}
    if not curves:
        return []
    out: list[Block] = [
        ("h3", "Coverage–accuracy (arms with a confidence per answer)"),
        (
            "p",
            "Labelled tools sorted by the confidence of the arm's modal answer (answers "
            "without a level last); at each coverage the most confident share is kept: exact "
            "and within-one accuracy among them, as if the arm abstained on the rest "
            "(docs/statistics.md).",
        ),
    ]
    for a, cv in curves.items():
        rows = [
            [_pct(p["coverage"]), str(int(p["n"])), _pct(p["exact"]), _pct(p["within_one"])]
            for p in cv["points"]
        ]
        out.append(("p", f"{a} (confidence from {cv['source']})"))
        out.append(("table", ["coverage", "tools", "exact", "within one"], rows))
    return out
