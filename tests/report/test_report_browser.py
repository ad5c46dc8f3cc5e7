"""report.html renders in headless Chromium with no console error and every plot visible."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tcplab.report import ReportSettings, build_report

from ..conftest import in_ci
from .conftest import make_synthetic_run

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _need(what: str) -> None:
    msg = f"{what} is missing; CI needs it (scripts/ci-system-deps.sh, pip install -e '.[dev]')"
    if in_ci():
        pytest.fail(msg)
    pytest.skip(msg)


def test_report_html_renders_with_its_plots(tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package")
    if not CHROMIUM.is_file() and shutil.which("chromium") is None:
        _need("Debian's chromium")
    exe = str(CHROMIUM) if CHROMIUM.is_file() else str(shutil.which("chromium"))
    files = build_report(make_synthetic_run(tmp_path, n_tools=40), ReportSettings(n_resamples=300))
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(files.html.as_uri(), wait_until="load")
            boxes: list[dict[str, Any]] = page.eval_on_selector_all(
                "figure[data-plot] svg, figure[data-plot] img",
                "els => els.map(e => {const r = e.getBoundingClientRect();"
                " return {w: r.width, h: r.height}})",
            )
            plots = page.eval_on_selector_all(
                "figure[data-plot]", "els => els.map(e => e.dataset.plot)"
            )
            title = page.title()
        finally:
            browser.close()
    assert errors == []
    assert all(u.startswith(("file:", "data:")) for u in requests), requests
    assert title.startswith("tcplab report")
    assert {"ecdf", "forest", "accuracy", "confusion-tcp", "confusion-llm"} <= set(plots)
    assert len(boxes) == len(plots) == len(files.plots)
    assert all(b["w"] > 50 and b["h"] > 50 for b in boxes), boxes
