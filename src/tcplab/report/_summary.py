"""Assemble ``summary.json``: run metadata, settings, per-arm and pairwise statistics."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from tcplab.report._arms import ArmTools, arm_summary, reduce_arm
from tcplab.report._common import SUMMARY_SCHEMA_VERSION, ReportSettings, clean_json
from tcplab.report._curve import arm_confidence, coverage_accuracy_curve
from tcplab.report._data import LEVELS, RunData
from tcplab.report._decisions import decision_summary
from tcplab.report._pairs import apply_holm, pair_summary
from tcplab.report.reduce import ArmReduction, pick_reference, reduce_arms
from tcplab.stats import PARSE_FAILURE

__all__ = ["build_summary", "code_name", "run_location"]

_ENV_KEYS = ("host", "cpu_model", "cpu_count", "cpu_affinity", "memory_bytes", "os", "python")
EXPLANATION_CHARS = 300


def tcplab_version() -> str | None:
    """The installed tcplab version (None when it is not installed as a package)."""
    try:
        return metadata.version("tcplab")
    except metadata.PackageNotFoundError:  # pragma: no cover - always installed in practice
        return None


def code_name(code: int) -> str:
    """The name of a prediction code (``SAFE``..``CRITICAL``, ``UNKNOWN``, ``PARSE_FAILURE``)."""
    if 0 <= code < len(LEVELS):
        return LEVELS[code]
    return "PARSE_FAILURE" if code == PARSE_FAILURE else "UNKNOWN"


def _run_meta(data: RunData) -> dict[str, Any]:
    m = data.meta
    env = m.get("environment") or {}
    packages = env.get("packages") or {}
    return {
        "run_id": m.get("run_id"),
        "name": m.get("name"),
        "status": m.get("status"),
        "spec_hash": m.get("spec_hash"),
        "plan_hash": m.get("plan_hash"),
        "seed": m.get("seed"),
        "started_at": m.get("started_at"),
        "finished_at": m.get("finished_at"),
        "n_trials_planned": m.get("n_trials"),
        "labels_path": m.get("labels"),
        "corpus_path": m.get("corpus"),
        "tcplab_version": packages.get("tcplab"),
        "git_commit": env.get("git_commit"),
        "environment": {k: env.get(k) for k in _ENV_KEYS},
        "clock": m.get("clock"),
        **run_location(m),
    }


def run_location(meta: dict[str, Any]) -> dict[str, Any]:
    """Region and provider as recorded (None when not given) and the median TCP connect time
    to the first probed LLM endpoint (``network_rtt_ms``; None without a successful probe)."""
    probes = meta.get("network_rtt") or []
    ok = [p for p in probes if isinstance(p, dict) and p.get("tcp_connect")]
    return {
        "region": meta.get("region"),
        "provider": meta.get("provider"),
        "network_rtt_ms": ok[0]["tcp_connect"]["median_ms"] if ok else None,
        "network_rtt": probes,
    }


def _explanation(data: RunData, arm: str, tool: str, modal: int) -> str:
    a = data.arms[arm]
    for pred, text in zip(a.preds[tool], a.explanations[tool], strict=True):
        if pred == modal:
            return text[:EXPLANATION_CHARS]
    return ""  # pragma: no cover - the mode is always one of the predictions


def _disagreements(data: RunData, reduced: dict[str, ArmTools]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for tool, truth in data.labels.items():
        arms = {a: r.modal[tool] for a, r in reduced.items() if tool in r.modal}
        wrong = [a for a, m in arms.items() if m != truth]
        if not wrong:
            continue
        rows.append(
            {
                "tool": tool,
                "label": LEVELS[truth],
                "n_arms_wrong": len(wrong),
                "arms": {
                    a: {
                        "modal": code_name(m),
                        "correct": m == truth,
                        "explanation": _explanation(data, a, tool, m),
                    }
                    for a, m in arms.items()
                },
            }
        )
    rows.sort(key=lambda r: (-r["n_arms_wrong"], r["tool"]))
    return rows


def _vs_reference(
    pairs: list[dict[str, Any]], ref: str, aggs: dict[str, ArmReduction]
) -> dict[str, Any]:
    """Each arm's speed ratio to the reference: the estimate is the reduction's
    ``speed_ratio``; the CI is the pair's (inverted when the reference is arm A; the
    BCa/percentile interval inverts exactly)."""
    out: dict[str, Any] = {}
    for p in pairs:
        r = p["ratio_of_medians"]
        if ref not in (p["a"], p["b"]):
            continue
        other = p["b"] if p["a"] == ref else p["a"]
        est = aggs[other].speed_ratio
        if r.get("available") is False:
            out[other] = {**r, "estimate": est}
        elif p["b"] == ref:
            out[other] = {k: r[k] for k in ("ci", "significant", "verdict")} | {"estimate": est}
        else:
            out[other] = {
                "estimate": est,
                "ci": [1.0 / r["ci"][1], 1.0 / r["ci"][0]],
                "significant": r["significant"],
                "verdict": r["verdict"]
                if not r["significant"]
                else f"significant: {other} is {est:.3g}x the latency of {ref}",
            }
    return out


def _per_tool(data: RunData, reduced: dict[str, ArmTools]) -> dict[str, Any]:
    return {
        a: {
            t: {
                "n_trials": data.arms[a].tools[t].n_trials,
                "n_failed": data.arms[a].tools[t].n_failed,
                "modal": code_name(r.modal[t]),
                "fraction_correct": r.fraction_correct.get(t),
                "median_latency_ns": r.medians.get(t),
            }
            for t in r.modal
        }
        for a, r in reduced.items()
    }


def _curve(data: RunData, arm: str, red: ArmTools) -> dict[str, Any] | None:
    """The arm's coverage–accuracy curve (None when its answers carry no confidence)."""
    a = data.arms[arm]
    conf, source = arm_confidence(data.meta, arm, a.analyzer, a.confidences)
    points = coverage_accuracy_curve(data.labels, red.modal, conf)
    if not points:
        return None
    return {"source": source, "unit": "labelled tools (modal prediction)", "points": points}


def build_summary(data: RunData, settings: ReportSettings) -> dict[str, Any]:
    """Every statistic of the report as a JSON-ready dict (schema: ``docs/report.md``)."""
    names = list(data.arms)
    ref = pick_reference(names, settings.reference_arm)
    aggs = {a.arm: a for a in reduce_arms(data.rows, reference_arm=ref, arm_order=names)}
    reduced = {a: reduce_arm(arm) for a, arm in data.arms.items()}
    arms = {a: arm_summary(data.arms[a], reduced[a], aggs[a], data.labels, settings) for a in names}
    for a in names:
        arms[a]["coverage_curve"] = _curve(data, a, reduced[a])
    pairs = [
        pair_summary((a, b), reduced[a], reduced[b], data.labels, settings)
        for a, b in itertools.combinations(names, 2)
    ]
    family = apply_holm(pairs, settings.alpha)
    tools_all = {r.tool for r in data.rows}
    summary = {
        "summary_schema_version": SUMMARY_SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(),
        "report_tcplab_version": tcplab_version(),
        "warnings": list(data.warnings),
        "run": _run_meta(data),
        "settings": {**settings.to_dict(), "reference_arm": ref},
        "labels": {
            "path": data.meta.get("labels"),
            "levels": list(LEVELS),
            "n_tools": len(tools_all),
            "n_tools_labeled": len(data.labels),
            "n_tools_unlabeled": len(data.unlabeled),
        },
        "arm_order": names,
        "decisions": decision_summary(data.run_dir, names),
        "arms": arms,
        "pairs": pairs,
        "vs_reference": _vs_reference(pairs, ref, aggs),
        "multiple_comparisons": family,
        "disagreements": _disagreements(data, reduced),
        "per_tool": _per_tool(data, reduced),
    }
    result: dict[str, Any] = clean_json(summary)
    return result
