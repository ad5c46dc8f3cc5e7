"""The report as a list of format-neutral blocks, rendered to Markdown and HTML elsewhere."""

from __future__ import annotations

from typing import Any

from tcplab.report._decisions import decision_blocks, decision_findings
from tcplab.report._methods import caveats, methods

__all__ = ["Block", "build_document", "fmt_ns", "fmt_p"]

Block = tuple[Any, ...]
"""``("h1"|"h2"|"h3"|"p", text)``, ``("ul", items)``, ``("warnings", items)`` (the run's
warnings, shown prominently), ``("table", header, rows)`` or ``("figure", plot_key, caption)``."""


def _num(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def fmt_ns(x: Any) -> str:
    """Nanoseconds in a readable unit (``1.23 µs``); ``—`` when there is no latency."""
    if x is None:
        return "—"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if x >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g} ns"


def fmt_p(p: Any) -> str:
    """A p-value (``< 1e-4`` below that)."""
    if p is None:
        return "n/a"
    return "< 1e-4" if p < 1e-4 else f"{p:.4f}"


def _ci(d: Any, fmt: Any = _num) -> str:
    if not isinstance(d, dict) or d.get("available") is False or d.get("ci") is None:
        est = d.get("estimate") if isinstance(d, dict) else None
        return f"{fmt(est)} (CI not available)" if est is not None else "n/a"
    lo, hi = d["ci"]
    return f"{fmt(d['estimate'])} [{fmt(lo)}, {fmt(hi)}]"


def _pct(x: Any) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _usd(x: Any) -> str:
    return "n/a" if x is None else f"${x:.3g}"


def _test(d: Any) -> str:
    if not isinstance(d, dict) or d.get("available") is False:
        return "n/a"
    return f"{fmt_p(d['p_value'])} / {fmt_p(d.get('p_holm'))} ({d.get('verdict_holm', '')})"


def _verdict(d: Any) -> str:
    if not isinstance(d, dict):
        return "n/a"
    if d.get("available") is False:
        return f"not available: {d.get('reason', '')}"
    return str(d.get("verdict", ""))


def _rtt(probes: list[dict[str, Any]]) -> str:
    parts = []
    for p in probes:
        if p.get("tcp_connect"):
            tls = p.get("tls_handshake")
            extra = f", TLS handshake {tls['median_ms']:.1f} ms" if tls else ""
            parts.append(f"{p['endpoint']}: {p['tcp_connect']['median_ms']:.1f} ms{extra}")
        else:
            parts.append(f"{p.get('endpoint')}: probe failed ({p.get('error')})")
    return "; ".join(parts) or "no LLM endpoint probed"


def _run_table(summary: dict[str, Any]) -> Block:
    r = summary["run"]
    env = r["environment"]
    rows = [
        ["run id", r["run_id"]],
        ["name", r["name"]],
        ["status", r["status"]],
        ["spec hash", r["spec_hash"]],
        ["plan hash", r["plan_hash"]],
        ["run seed", r["seed"]],
        [
            "tcplab version (run / report)",
            f"{r['tcplab_version']} / {summary['report_tcplab_version']}",
        ],
        ["git commit", r["git_commit"]],
        ["host", f"{env.get('host')} ({env.get('cpu_model')}, {env.get('cpu_count')} cores)"],
        ["python / OS", f"{env.get('python')} / {env.get('os')}"],
        [
            "region / provider",
            f"{r.get('region') or 'not recorded'} / {r.get('provider') or 'not recorded'}",
        ],
        ["LLM endpoint RTT (TCP connect, median)", _rtt(r.get("network_rtt") or [])],
        ["started / finished", f"{r['started_at']} / {r['finished_at']}"],
        ["labels", summary["labels"]["path"]],
        ["report generated", summary["generated_at"]],
    ]
    return ("table", ["field", "value"], [[k, "n/a" if v is None else str(v)] for k, v in rows])


def _safety_findings(summary: dict[str, Any]) -> list[str]:
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


def _findings(summary: dict[str, Any]) -> list[str]:
    ref = summary["settings"]["reference_arm"]
    out = decision_findings(summary.get("decisions")) + _safety_findings(summary)
    for arm, v in summary["vs_reference"].items():
        if v.get("available") is False:
            out.append(f"{arm} vs {ref}: latency ratio not available ({v.get('reason')}).")
            continue
        lo, hi = v["ci"]
        out.append(
            f"Latency {arm} / {ref}: ratio of medians {v['estimate']:.3g} "
            f"[{lo:.3g}, {hi:.3g}]: {v['verdict']}."
        )
    for arm, v in summary["arms"].items():
        if v["latency_ns"].get("p50") is None:
            out.append(
                f"{arm}: no latency (no OK trial was timed; "
                f"{v['failures']['n_failed']} of {v['n_trials']} trials failed)."
            )
    for p in summary["pairs"]:
        d = p["accuracy_difference"]
        if isinstance(d, dict) and d.get("available") is not False:
            out.append(
                f"Accuracy {p['a']} - {p['b']}: {_ci(d, _pct)}: {d['verdict']}; "
                f"McNemar p_holm {fmt_p(p.get('mcnemar_p_holm'))}."
            )
    return out


def _safety_tables(arms: dict[str, Any]) -> list[Block]:
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


def _curve_tables(arms: dict[str, Any]) -> list[Block]:
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


def _accuracy_table(arms: dict[str, Any]) -> list[Block]:
    rows = [
        [
            a,
            f"{v['n_labeled_tools']} / {v['n_tools']}",
            str(v["n_trials"]),
            _ci(v["accuracy_exact"], _pct),
            _ci(v.get("accuracy_within_one"), _pct),
            _ci(v["kappa_quadratic"]),
            _ci(v.get("kappa")),
            _pct(v.get("modal_accuracy")),
        ]
        for a, v in arms.items()
    ]
    header = [
        "arm",
        "labelled / tools",
        "trials",
        "accuracy_exact [CI]",
        "within one [CI]",
        "quadratic κ [CI]",
        "κ [CI]",
        "modal accuracy",
    ]
    return [
        ("h3", "Accuracy against ground truth"),
        ("table", header, rows),
        ("figure", "accuracy", "accuracy_exact per arm with bootstrap CIs over tools"),
    ]


def _failure_table(arms: dict[str, Any]) -> list[Block]:
    rows = []
    for a, v in arms.items():
        f = v["failures"]
        by = ", ".join(f"{k}: {n}" for k, n in f["by_status"].items())
        rows.append([a, by, str(f["n_failed"]), str(f["n_unknown"]), str(f["n_parse_failure"])])
    return [
        ("h3", "Failures"),
        (
            "p",
            "UNKNOWN and PARSE_FAILURE predictions are counted as wrong in every metric. "
            "Failed trials (any status but OK) are counted here and kept out of latency.",
        ),
        ("table", ["arm", "trials by status", "failed", "UNKNOWN", "PARSE_FAILURE"], rows),
    ]


def _latency_table(arms: dict[str, Any]) -> list[Block]:
    rows = []
    for a, v in arms.items():
        lat = v["latency_ns"]
        tl = lat.get("trial_level") or {}
        rows.append(
            [
                a,
                "micro (batch means)" if v["latency_is_batch_mean"] else "macro (single calls)",
                str(lat.get("n_tools", 0)),
                fmt_ns(lat.get("p50")),
                fmt_ns(lat.get("p90")),
                fmt_ns(lat.get("p99")),
                f"{fmt_ns(tl.get('p50'))} / {fmt_ns(tl.get('p99'))}",
                str(lat.get("n_failed_excluded", 0)),
                str(lat["n_cache_hits"]),
            ]
        )
    header = [
        "arm",
        "timing",
        "tools timed",
        "p50",
        "p90",
        "p99",
        "trial-level p50 / p99",
        "failed (excluded)",
        "cache hits (excluded)",
    ]
    return [
        ("h3", "Latency"),
        ("table", header, rows),
        ("figure", "ecdf", "ECDF of per-tool median latency per arm (log axis)"),
    ]


def _variability_and_cost_tables(arms: dict[str, Any]) -> list[Block]:
    var_rows, cost_rows = [], []
    for a, v in arms.items():
        var = v["variability"]
        var_rows.append(
            [
                a,
                f"{_pct(var['fraction_varying'])} ({var['n_tools_varying']} of "
                f"{var['n_tools_repeated']})",
                _pct(var["latency_cv_median"]),
                _pct(var["latency_cv_p90"]),
            ]
        )
        c = v["cost"]
        cost_rows.append(
            [
                a,
                c["basis"],
                _usd(c["total_usd"]),
                _usd(c["per_decision_usd"]),
                _usd(c["per_correct_decision_usd"]),
            ]
        )
    var_header = ["arm", "tools whose prediction varies", "latency CV (median)", "latency CV (p90)"]
    cost_header = ["arm", "basis", "total", "per decision", "per correct decision"]
    return [
        ("h3", "Between-iteration variability"),
        ("table", var_header, var_rows),
        ("h3", "Cost"),
        ("table", cost_header, cost_rows),
    ]


def _arm_tables(summary: dict[str, Any]) -> list[Block]:
    """The per-arm tables: safety first, then accuracy, failures, latency, variability, cost."""
    arms = summary["arms"]
    return [
        *_safety_tables(arms),
        *_accuracy_table(arms),
        *_curve_tables(arms),
        *_failure_table(arms),
        *_latency_table(arms),
        *_variability_and_cost_tables(arms),
    ]


def _pair_tables(summary: dict[str, Any]) -> list[Block]:
    lat_rows, acc_rows = [], []
    for p in summary["pairs"]:
        name = f"{p['a']} vs {p['b']}"
        r = p["ratio_of_medians"]
        g, d = p["hedges_g"], p["cliffs_delta"]
        lat_rows.append(
            [
                name,
                str(p["n_common_timed_tools"]),
                _ci(r),
                _verdict(r),
                _test(p["welch_log"]),
                _test(p["mann_whitney"]),
                _num(g) if not isinstance(g, dict) else "n/a",
                _num(d) if not isinstance(d, dict) else "n/a",
            ]
        )
        ag = p["agreement"]
        t = p["tost"]
        tost = (
            f"{_verdict(t)} (90% CI [{_pct(t['ci'][0])}, {_pct(t['ci'][1])}])"
            if isinstance(t, dict) and "ci" in t
            else _verdict(t)
        )
        acc_rows.append(
            [
                name,
                str(p["n_common_labeled_tools"]),
                _ci(p["accuracy_difference"], _pct),
                _verdict(p["accuracy_difference"]),
                _test(p["mcnemar"]),
                tost,
                "n/a"
                if ag.get("available") is False
                else f"{_num(ag['raw_agreement'])} / {_num(ag['kappa'])} / "
                f"{_num(ag['kappa_quadratic'])}",
            ]
        )
    return [
        ("h3", "Latency between arms (A vs B; ratio > 1: A is slower)"),
        (
            "table",
            [
                "pair",
                "tools",
                "ratio of medians [CI]",
                "verdict",
                "Welch p / p_holm",
                "Mann-Whitney p / p_holm",
                "Hedges' g",
                "Cliff's δ",
            ],
            lat_rows,
        ),
        ("h3", "Accuracy between arms (A - B, paired over common labelled tools)"),
        (
            "table",
            [
                "pair",
                "tools",
                "difference [CI]",
                "verdict",
                "McNemar p / p_holm",
                "TOST equivalence",
                "agreement / κ / quadratic κ",
            ],
            acc_rows,
        ),
    ]


def _disagreement_table(summary: dict[str, Any]) -> list[Block]:
    rows_all = summary["disagreements"]
    limit = summary["settings"]["max_table_rows"]
    arms = summary["arm_order"]
    rows = []
    for r in rows_all[:limit]:
        cells = [r["tool"], r["label"]]
        for a in arms:
            x = r["arms"].get(a)
            if x is None:
                cells.append("not run")
                continue
            mark = "" if x["correct"] else " ✗"
            expl = f": {x['explanation']}" if x["explanation"] else ""
            cells.append(f"{x['modal']}{mark}{expl}")
        rows.append(cells)
    shown = f"all {len(rows_all)}" if len(rows_all) <= limit else f"{limit} of {len(rows_all)}"
    return [
        ("h3", "Tools where an arm disagrees with the label"),
        (
            "p",
            f"Showing {shown} tools (most arms wrong first; full list in summary.json). Each "
            "cell is the arm's modal prediction (✗ = wrong) and the explanation of a trial "
            "with that prediction.",
        ),
        ("table", ["tool", "label", *arms], rows),
    ]


def build_document(summary: dict[str, Any]) -> list[Block]:
    """Every block of the report in reading order."""
    run = summary["run"]
    ref = summary["settings"]["reference_arm"]
    blocks: list[Block] = [
        ("h1", f"tcplab report: {run['name'] or ''} ({run['run_id']})"),
        *([("warnings", list(summary["warnings"]))] if summary.get("warnings") else []),
        ("h2", "Key results"),
        ("ul", _findings(summary)),
        ("h2", "Run"),
        _run_table(summary),
        ("h2", "Methods"),
    ]
    for heading, text in methods(summary):
        blocks += [("h3", heading), ("p", text)]
    blocks += [("h2", "Results"), *decision_blocks(summary.get("decisions"))]
    blocks += _arm_tables(summary)
    for a in summary["arm_order"]:
        blocks.append(("figure", f"confusion-{a}", f"Confusion matrix of {a} (modal prediction)"))
    blocks += [
        ("h3", f"Speed relative to {ref}"),
        ("figure", "forest", f"Per-tool latency ratio to {ref} and overall ratio of medians"),
        *_pair_tables(summary),
        *_disagreement_table(summary),
        ("h2", "Caveats"),
        ("ul", caveats(summary)),
    ]
    return blocks
