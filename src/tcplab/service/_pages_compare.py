"""The dashboard's compare page: run B against run A, arm by arm.

Every number comes from the report package: the per-run estimates and their CIs from each
run's ``summary.json`` (:func:`tcplab.report.build_report`, what the report page shows), the
paired B-vs-A statistics from :func:`tcplab.report.compare_runs` (what ``tcplab compare`` and
``GET /api/v1/compare`` answer). Decision safety comes first (unsafe approvals first), then
accuracy, then latency. The figure is inline SVG drawn by the template from coordinates
computed here (:mod:`tcplab.service._compare_plot`): no script, nothing from another host.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from tcplab.errors import MissingDependencyError, TcplabError, UsageError
from tcplab.service._auth import can_see
from tcplab.service._compare_plot import ci_text, figure, latency_text, pct, signed_pct
from tcplab.service._jobs import list_jobs
from tcplab.service._models import JobRecord, TokenRecord
from tcplab.service._pages import Session, compare_choices, pages
from tcplab.service._web import render

__all__ = ["SAFETY_ROWS", "compare_view"]

#: decision-safety rows, in the order shown (unsafe approvals first); True: lower is better
SAFETY_ROWS: tuple[tuple[str, str, bool], ...] = (
    ("unsafe_approval_rate", "Unsafe approvals", True),
    ("critical_undercall_rate", "Critical under-calls", True),
    ("friction_rate", "Friction (safe tools not approved)", True),
    ("coverage", "Coverage (a level named)", False),
)


def _run(request: Request, run_id: str, who: TokenRecord, side: str) -> JobRecord:
    found, _ = list_jobs(request.app.state.db, run_id=run_id, limit=1)
    job = found[0] if found else None
    if job is None or not can_see(job, who) or not job.run_dir:
        raise _CompareProblem(404, "Not found", f"There is no run {run_id!r} ({side}) you can see.")
    return job


class _CompareProblem(Exception):
    """An error state of the compare page: rendered as the page, with the pickers."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(message)
        self.status, self.title, self.message = status, title, message


def _summary(run_dir: Path) -> dict[str, Any]:
    from tcplab.service._routes_data import fresh_report

    text = (fresh_report(run_dir) / "summary.json").read_text(encoding="utf-8")
    summary: dict[str, Any] = json.loads(text)
    return summary


def _estimate(obj: Any) -> float | None:
    return obj.get("estimate") if isinstance(obj, dict) else None


def _cell(obj: Any) -> dict[str, Any]:
    """A per-run value: the estimate as a percentage and its CI, or why there is none."""
    value = _estimate(obj)
    if value is None:
        reason = obj.get("reason", "") if isinstance(obj, dict) else ""
        return {"text": "—", "ci": "", "title": reason or "no tool of this kind"}
    return {"text": pct(value), "ci": ci_text(obj.get("ci"), pct), "title": ""}


def _safety_rows(arm_a: dict[str, Any], arm_b: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, label, lower_better in SAFETY_ROWS:
        obj_a, obj_b = arm_a["safety"].get(key), arm_b["safety"].get(key)
        va, vb = _estimate(obj_a), _estimate(obj_b)
        change, tone = "—", ""
        if va is not None and vb is not None:
            change = "no change" if vb == va else signed_pct(vb - va)
            if vb != va:
                tone = "worse" if (vb > va) == lower_better else "better"
        rows.append(
            {
                "key": key,
                "label": label,
                "a": _cell(obj_a),
                "b": _cell(obj_b),
                "change": change,
                "change_ci": "difference of the estimates (no paired CI)",
                "tone": tone,
            }
        )
    return rows


def _accuracy_row(arm_a: dict[str, Any], arm_b: dict[str, Any], cmp: dict[str, Any]) -> Any:
    diff = cmp["accuracy"]["difference_b_minus_a"]
    change, ci, tone = "—", diff.get("reason", ""), ""
    if diff.get("available") is not False and diff.get("estimate") is not None:
        change, ci = signed_pct(diff["estimate"]), ci_text(diff.get("ci"), signed_pct)
        verdict = diff.get("verdict", "")
        tone = {"better": "better", "worse": "worse"}.get(verdict, "")
        ci = f"{ci} · {verdict}" if verdict else ci
    return {
        "key": "accuracy_exact",
        "label": "Accuracy (exact level)",
        "a": _cell(arm_a.get("accuracy_exact")),
        "b": _cell(arm_b.get("accuracy_exact")),
        "change": change,
        "change_ci": ci,
        "tone": tone,
    }


def _latency_row(arm_a: dict[str, Any], arm_b: dict[str, Any], cmp: dict[str, Any]) -> Any:
    ratio = cmp["latency"]["ratio_b_over_a"]
    change, ci, tone = "—", ratio.get("reason", ""), ""
    if ratio.get("available") is not False and ratio.get("estimate") is not None:
        change = f"{ratio['estimate']:.3g}×"
        ci = f"{ci_text(ratio.get('ci'), lambda v: f'{v:.3g}×')} · {ratio.get('verdict', '')}"
        tone = {"slower": "worse", "faster": "better"}.get(ratio.get("verdict", ""), "")
    lat_a, lat_b = arm_a.get("latency_ns") or {}, arm_b.get("latency_ns") or {}
    return {
        "key": "latency",
        "label": "Latency p50 (per-tool medians)",
        "a": {"text": latency_text(lat_a.get("p50")), "ci": "", "title": ""},
        "b": {"text": latency_text(lat_b.get("p50")), "ci": "", "title": ""},
        "change": change,
        "change_ci": ci,
        "tone": tone,
    }


def compare_view(cmp: dict[str, Any], sum_a: dict[str, Any], sum_b: dict[str, Any]) -> Any:
    """The page's table rows per arm, the figure, and the runs' location facts."""
    arms = []
    for name, stats in cmp["arms"].items():
        arm_a, arm_b = sum_a["arms"][name], sum_b["arms"][name]
        rows = _safety_rows(arm_a, arm_b)
        rows += [_accuracy_row(arm_a, arm_b, stats), _latency_row(arm_a, arm_b, stats)]
        arms.append({"name": name, "analyzer": arm_a.get("analyzer", ""), "rows": rows})
    return {"arms": arms, "figure": figure(cmp, sum_a, sum_b)}


def _compare(job_a: JobRecord, job_b: JobRecord) -> dict[str, Any]:
    from tcplab.report import compare_runs

    assert job_a.run_dir is not None and job_b.run_dir is not None
    dir_a, dir_b = Path(job_a.run_dir), Path(job_b.run_dir)
    try:
        sum_a, sum_b = _summary(dir_a), _summary(dir_b)
        cmp = compare_runs(dir_a, dir_b)
    except MissingDependencyError as exc:
        raise _CompareProblem(503, "Comparison unavailable", str(exc)) from exc
    except (UsageError, TcplabError) as exc:
        raise _CompareProblem(
            409, "These runs cannot be compared", f"{job_a.run_id} vs {job_b.run_id}: {exc}"
        ) from exc
    return {"cmp": cmp, "view": compare_view(cmp, sum_a, sum_b)}


@pages.get("/compare")
def compare_page(
    request: Request,
    who: Session,
    a: Annotated[str, Query(max_length=200)] = "",
    b: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """Pick two runs (A = baseline, B = new); with both, the per-arm comparison."""
    a, b = a.strip(), b.strip()
    ctx: dict[str, Any] = {"a": a, "b": b, "choices": compare_choices(request, who)}
    try:
        if a and b:
            if a == b:
                raise _CompareProblem(
                    400, "Pick two different runs", f"Run {a} was chosen as both A and B."
                )
            ctx["job_a"] = _run(request, a, who, "A")
            ctx["job_b"] = _run(request, b, who, "B")
            ctx |= _compare(ctx["job_a"], ctx["job_b"])
        elif a or b:  # one chosen (from a job's row or page): the pickers, it preselected
            ctx["hint"] = f"Now pick run {'B' if a else 'A'} to compare with."
    except _CompareProblem as problem:
        ctx["problem"] = problem
        return render(request, "compare.html", problem.status, who, **ctx)
    return render(request, "compare.html", who=who, **ctx)
