"""The dashboard's compare page in a real headless Chromium against real processes.

Three labelled runs are made by a real worker (two comparable, run A and run B in different
regions; one with other arms), then: the "compare with…" control of a job page opens the
comparison, its per-arm table lists decision safety first with the per-run CIs of the runs'
reports and the paired statistics of ``compare_runs`` (the API's ``/compare``), the inline
SVG figure is drawn, swap works; the error states (same run twice, an unknown run,
incomparable runs) and the empty state are pages with their status; auth is the other pages'.
No console error and no request leaving 127.0.0.1 on the working pages.

Screenshots go to ``$DASHBOARD_SCREENSHOTS`` when it is set (``docs/screenshots``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from .conftest import Stack, fake_spec
from .test_dashboard import ARGS, Browser, _chromium, _log_in

LEVELS = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
N_TOOLS = 20
WAIT_S = 120


def _labels(home: Path) -> Path:
    path = home / "labels.csv"
    rows = [f"tool{i:03d},{LEVELS[i % 5]},,synthetic label,test" for i in range(N_TOOLS)]
    path.write_text("command,risk_level,capabilities,rationale,labeler\n" + "\n".join(rows) + "\n")
    return path


def _spec(name: str, labels: Path, lenient: dict[str, Any], arms: str = "cautious lenient") -> Any:
    spec = fake_spec(name=name, n_tools=N_TOOLS, shard_size=10, labels=str(labels), iterations=2)
    first, second = arms.split()
    spec["arms"] = [
        {"name": first, "analyzer": "fake", "params": {"level": "HIGH_RISK"}},
        {"name": second, "analyzer": "fake", "params": lenient},
    ]
    return spec


def _three_runs(stack: Stack, token: str) -> list[Any]:
    """Run A in region lab-east; runs B and C (other arms) in lab-west."""
    labels = _labels(stack.home)
    specs = [
        _spec("baseline", labels, {"level": "SAFE"}),
        _spec("candidate", labels, {"level": "LOW_RISK", "fail": ["tool000", "tool001"]}),
        _spec("other-arms", labels, {"level": "SAFE"}, arms="strict loose"),
    ]
    jobs = []
    with stack.client(token) as http:
        for i, spec in enumerate(specs):
            if i < 2:  # one worker per region: its run records where it was measured
                worker = stack.worker(1, i, TCPLAB_REGION=("lab-east", "lab-west")[i])
            r = http.post("/jobs", json={"spec": spec})
            assert r.status_code == 201, r.text
            jobs.append(stack.wait_state(r.json()["id"], ("succeeded", "failed"), WAIT_S))
            assert jobs[-1].state == "succeeded", stack.log(f"worker-{min(i, 1)}.log")
            if i == 0:
                stack.stop(worker)
    return jobs


def test_compare_page_in_chromium(stack: Stack, tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        from ..report.test_report_browser import _need

        _need("the playwright package")
    exe = _chromium()
    base = stack.serve()
    sam = stack.token("sam", "submitter")
    run_a, run_b, run_c = _three_runs(stack, sam)
    admin = stack.token("ada", "admin")
    _auth_and_empty_states(stack, base, run_a, run_b)
    shots = tmp_path / "shots"
    shots.mkdir()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=exe,
            args=ARGS,
            viewport={"width": 1200, "height": 1400},
        )
        try:
            b = Browser(context.new_page(), shots)
            _log_in(b, base, admin, jobs_empty=False)
            _pick_from_job_page(b, base, run_a, run_b)
            _check_comparison(b, stack, sam, run_a, run_b)
            _picker_and_swap(b, base, run_a, run_b)
            errors, blocked = list(b.errors), list(b.blocked)
            _error_states(b, base, run_a, run_c)
        finally:
            context.close()
    assert errors == [], errors
    assert blocked == [], blocked
    assert all(u.startswith((base + "/", "data:")) for u in b.requests), b.requests
    out = os.environ.get("DASHBOARD_SCREENSHOTS")
    if out:
        for png in shots.glob("compare*.png"):
            shutil.copy(png, Path(out) / png.name)


def _pick_from_job_page(b: Browser, base: str, run_a: Any, run_b: Any) -> None:
    page = b.page
    page.goto(f"{base}/jobs/{run_a.id}")
    options = page.eval_on_selector_all("#compare-b option", "els => els.map(e => e.value)")
    assert run_b.run_id in options and run_a.run_id not in options, options
    page.select_option("#compare-b", run_b.run_id)
    page.click("#compare-with button")
    page.wait_for_url(f"{base}/compare?a={run_a.run_id}&b={run_b.run_id}")
    page.wait_for_selector("#compare-table")


def _check_comparison(b: Browser, stack: Stack, token: str, run_a: Any, run_b: Any) -> None:
    page = b.page
    arms = page.eval_on_selector_all("#compare-table tbody", "els => els.map(e => e.dataset.arm)")
    assert arms == ["cautious", "lenient"], arms
    metrics = page.eval_on_selector_all(
        "#compare-table tbody[data-arm=lenient] tr[data-metric]",
        "els => els.map(e => e.dataset.metric)",
    )
    assert metrics[0] == "unsafe_approval_rate" and metrics[-2:] == ["accuracy_exact", "latency"]
    row = "#compare-table tbody[data-arm=lenient] tr[data-metric={}] td"
    texts = "els => els.map(c => c.innerText)"
    cells = page.eval_on_selector_all(row.format("unsafe_approval_rate"), texts)
    # lenient approves every tool in A (SAFE) and B (LOW_RISK): 8 HIGH/CRITICAL tools, all approved
    assert cells[1].startswith("100.0 %") and cells[2].startswith("100.0 %"), cells
    with stack.client(token) as http:
        api = http.get("/compare", params={"a": run_a.run_id, "b": run_b.run_id}).json()
    diff = api["arms"]["lenient"]["accuracy"]["difference_b_minus_a"]["estimate"]
    acc = page.eval_on_selector_all(row.format("accuracy_exact"), texts)
    assert acc[3].startswith(f"{100 * diff:+.1f} pts"), (acc, diff)
    ratio = api["arms"]["lenient"]["latency"]["ratio_b_over_a"]
    lat = page.eval_on_selector_all(row.format("latency"), texts)
    assert lat[3].startswith(f"{ratio['estimate']:.3g}×") and ratio["verdict"] in lat[3], lat
    assert page.inner_text("#runs .card:nth-child(1) .region") == "lab-east"
    assert page.inner_text("#runs .card:nth-child(2) .region") == "lab-west"
    assert "different regions" in page.inner_text("#regions-differ")
    marks = page.eval_on_selector_all("#compare-figure .mark", "els => els.length")
    assert marks == 2 * 2 + 2 * 2 + 2, marks  # A and B per arm in two panels, one ratio per arm
    box = page.eval_on_selector("#compare-figure", "e => e.getBoundingClientRect().width")
    assert box > 600, box
    b.shot("compare")


def _picker_and_swap(b: Browser, base: str, run_a: Any, run_b: Any) -> None:
    page = b.page
    page.click("#swap")
    page.wait_for_url(f"{base}/compare?a={run_b.run_id}&b={run_a.run_id}")
    assert page.input_value("#pick-a") == run_b.run_id
    page.goto(f"{base}/jobs")
    page.click("#compare-runs")
    page.wait_for_url(f"{base}/compare")
    assert page.query_selector("#compare-table") is None
    page.select_option("#pick-a", run_a.run_id)
    page.select_option("#pick-b", run_b.run_id)
    page.click("#compare-form button")
    page.wait_for_selector("#compare-table")
    assert urlsplit(page.url).path == "/compare"
    page.goto(f"{base}/jobs")  # a row's "compare…": that run as A, pick B
    page.click(f"a.compare-link[href='/compare?a={run_b.run_id}']")
    page.wait_for_url(f"{base}/compare?a={run_b.run_id}")
    assert "pick run B" in page.inner_text("#hint")
    assert page.input_value("#pick-a") == run_b.run_id and page.input_value("#pick-b") == ""
    page.select_option("#pick-b", run_a.run_id)
    page.click("#compare-form button")
    page.wait_for_selector("#compare-table")


def _error_states(b: Browser, base: str, run_a: Any, run_c: Any) -> None:
    """Last: a 4xx document is itself reported on the console as a failed load."""
    page = b.page
    cases = [
        (f"a={run_a.run_id}&b={run_a.run_id}", 400, "Pick two different runs"),
        (f"a={run_a.run_id}&b=run-does-not-exist", 404, "no run 'run-does-not-exist'"),
        (f"a={run_a.run_id}&b={run_c.run_id}", 409, "share no arm"),
    ]
    for query, status, text in cases:
        response = page.goto(f"{base}/compare?{query}")
        assert response is not None and response.status == status, query
        assert text.lower() in page.inner_text("#problem").lower(), page.inner_text("#problem")
        assert page.query_selector("#compare-form") is not None  # pick again from there
        if status == 409:
            b.shot("compare-error")


@contextlib.contextmanager
def _session(base: str, token: str) -> Iterator[httpx.Client]:
    """A client logged in to the dashboard (the session cookie) with ``token``."""
    with httpx.Client(base_url=base, timeout=60) as client:
        r = client.post("/login", data={"token": token})
        assert r.status_code == 303, r.text
        yield client


def _auth_and_empty_states(stack: Stack, base: str, run_a: Any, run_b: Any) -> None:
    query = {"a": run_a.run_id, "b": run_b.run_id}
    r = httpx.get(f"{base}/compare", params=query)
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=/compare")
    with _session(base, stack.token("eve", "submitter")) as eve:  # sam's runs are not hers
        r = eve.get("/compare", params=query)
        assert r.status_code == 404 and "no run" in r.text.lower()
        r = eve.get("/compare")
        assert r.status_code == 200 and 'id="compare-empty"' in r.text
    with _session(base, stack.token("vic", "viewer")) as vic:
        r = vic.get("/compare", params=query)
        assert r.status_code == 200 and 'id="compare-table"' in r.text
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        for hostile in ("x" * 201, "<script>alert(1)</script>", "../../etc/passwd", "%00"):
            r = vic.get("/compare", params={"a": run_a.run_id, "b": hostile})
            assert r.status_code in (400, 404) and "<script>alert" not in r.text, hostile
            assert r.headers["content-type"].startswith("text/html")
    schema = httpx.get(f"{base}/api/v1/openapi.json").json()
    assert "/compare" not in schema["paths"] and "/api/v1/compare" in schema["paths"]


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
