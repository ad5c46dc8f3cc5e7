"""The report as a list of format-neutral blocks, rendered to Markdown and HTML elsewhere."""

from __future__ import annotations

from typing import Any

from tcplab.report._decisions import decision_blocks, decision_findings
from tcplab.report._fmt import ci as _ci
from tcplab.report._fmt import fmt_ns, fmt_p
from tcplab.report._fmt import num as _num
from tcplab.report._fmt import pct as _pct
from tcplab.report._methods import caveats, methods
from tcplab.report._safety import curve_tables, safety_findings, safety_tables

__all__ = ["Block", "build_document", "fmt_ns", "fmt_p"]

Block = tuple[Any, ...]
"""``("h1"|"h2"|"h3"|"p", text)``, ``("ul", items)``, ``("warnings", items)`` (the run's
warnings, shown prominently), ``("table", header, rows)`` or ``("figure", plot_key, caption)``."""

_LEVELS_SECONDARY = (
    "This run's inputs are command lines, so the decisions above are its results. The tables "
    "below compare each arm's risk level for a line with the line's labelled level (and "
    "'tools' there are command lines); they are secondary, and the per-tool safety table of "
    "tool runs is left out (the decision table is the safety result)."
)


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


def _findings(summary: dict[str, Any]) -> list[str]:
    ref = summary["settings"]["reference_arm"]
    decisions = summary.get("decisions")
    # a run on command lines reports safety on decisions; per-tool level safety is for tool runs
    out = decision_findings(decisions) if decisions else safety_findings(summary)
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
    if summary.get("decisions"):
        head: list[Block] = [("h3", "Risk levels (secondary)"), ("p", _LEVELS_SECONDARY)]
    else:
        head = safety_tables(arms)
    return [
        *head,
        *_accuracy_table(arms),
        *curve_tables(arms),
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
