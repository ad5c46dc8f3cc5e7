"""The report as a list of format-neutral blocks, rendered to Markdown and HTML elsewhere."""

from __future__ import annotations

from typing import Any

from tcplab.report._methods import caveats, methods

__all__ = ["Block", "build_document", "fmt_ns", "fmt_p"]

Block = tuple[Any, ...]
"""``("h1"|"h2"|"h3"|"p", text)``, ``("ul", items)``, ``("table", header, rows)`` or
``("figure", plot_key, caption)``."""


def _num(x: Any, digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}g}"


def fmt_ns(x: Any) -> str:
    """Nanoseconds in a readable unit (``1.23 µs``)."""
    if x is None:
        return "n/a"
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
        ["started / finished", f"{r['started_at']} / {r['finished_at']}"],
        ["labels", summary["labels"]["path"]],
        ["report generated", summary["generated_at"]],
    ]
    return ("table", ["field", "value"], [[k, "n/a" if v is None else str(v)] for k, v in rows])


def _findings(summary: dict[str, Any]) -> list[str]:
    ref = summary["settings"]["reference_arm"]
    out = []
    for arm, v in summary["vs_reference"].items():
        if v.get("available") is False:
            out.append(f"{arm} vs {ref}: latency ratio not available ({v.get('reason')}).")
            continue
        lo, hi = v["ci"]
        out.append(
            f"Latency {arm} / {ref}: ratio of medians {v['estimate']:.3g} "
            f"[{lo:.3g}, {hi:.3g}]: {v['verdict']}."
        )
    for p in summary["pairs"]:
        d = p["accuracy_difference"]
        if isinstance(d, dict) and d.get("available") is not False:
            out.append(
                f"Accuracy {p['a']} - {p['b']}: {_ci(d, _pct)}: {d['verdict']}; "
                f"McNemar p_holm {fmt_p(p.get('mcnemar_p_holm'))}."
            )
    return out


def _arm_tables(summary: dict[str, Any]) -> list[Block]:
    arms = summary["arms"]
    acc_rows, fail_rows, lat_rows, var_rows, cost_rows = [], [], [], [], []
    for a, v in arms.items():
        acc_rows.append(
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
        )
        f = v["failures"]
        by = ", ".join(f"{k}: {n}" for k, n in f["by_status"].items())
        fail_rows.append([a, by, str(f["n_unknown"]), str(f["n_parse_failure"])])
        lat = v["latency_ns"]
        tl = lat.get("trial_level") or {}
        lat_rows.append(
            [
                a,
                "micro (batch means)" if v["latency_is_batch_mean"] else "macro (single calls)",
                str(lat.get("n_tools", 0)),
                fmt_ns(lat.get("p50")),
                fmt_ns(lat.get("p90")),
                fmt_ns(lat.get("p99")),
                f"{fmt_ns(tl.get('p50'))} / {fmt_ns(tl.get('p99'))}",
                str(lat["n_cache_hits"]),
            ]
        )
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
    return [
        ("h3", "Accuracy against ground truth"),
        (
            "table",
            [
                "arm",
                "labelled / tools",
                "trials",
                "accuracy_exact [CI]",
                "within one [CI]",
                "quadratic κ [CI]",
                "κ [CI]",
                "modal accuracy",
            ],
            acc_rows,
        ),
        ("figure", "accuracy", "accuracy_exact per arm with bootstrap CIs over tools"),
        ("h3", "Failures"),
        ("p", "UNKNOWN and PARSE_FAILURE predictions are counted as wrong in every metric."),
        ("table", ["arm", "trials by status", "UNKNOWN", "PARSE_FAILURE"], fail_rows),
        ("h3", "Latency"),
        (
            "table",
            [
                "arm",
                "timing",
                "tools timed",
                "p50",
                "p90",
                "p99",
                "trial-level p50 / p99",
                "cache hits (excluded)",
            ],
            lat_rows,
        ),
        ("figure", "ecdf", "ECDF of per-tool median latency per arm (log axis)"),
        ("h3", "Between-iteration variability"),
        (
            "table",
            ["arm", "tools whose prediction varies", "latency CV (median)", "latency CV (p90)"],
            var_rows,
        ),
        ("h3", "Cost"),
        (
            "table",
            ["arm", "basis", "total", "per decision", "per correct decision"],
            cost_rows,
        ),
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
        ("h2", "Key results"),
        ("ul", _findings(summary)),
        ("h2", "Run"),
        _run_table(summary),
        ("h2", "Methods"),
    ]
    for heading, text in methods(summary):
        blocks += [("h3", heading), ("p", text)]
    blocks += [("h2", "Results"), *_arm_tables(summary)]
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
