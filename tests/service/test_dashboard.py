"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against real
processes: log in with a token, a refused spec shows its problems inline, submit a spec, watch
the progress bars reach 100 % over SSE, open the report, cancel a second job, create a token.
No console error, and no request leaves 127.0.0.1 (a route handler records and blocks any).

Screenshots go to ``$DASHBOARD_SCREENSHOTS`` when it is set (``docs/screenshots`` for the docs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ..report.test_report_browser import _need
from .conftest import Stack, fake_spec

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
N_TOOLS = 24
WAIT_MS = 120_000


def _chromium() -> str:
    if CHROMIUM.is_file():
        return str(CHROMIUM)
    found = shutil.which("chromium")
    if found is None:
        _need("Debian's chromium")
    assert found is not None
    return found


class Browser:
    """A page with the console, page errors and every request recorded."""

    def __init__(self, page: Any, shots: Path) -> None:
        self.page, self.shots = page, shots
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.blocked: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.route("**/*", self._only_loopback)

    def _only_loopback(self, route: Any) -> None:
        url = route.request.url
        if url.startswith("data:") or urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"))


def test_dashboard_in_chromium(stack: Stack, tmp_path: Path) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _need("the playwright package")
    exe = _chromium()
    base = stack.serve()
    worker = stack.worker()
    admin = stack.token("ada", "admin")
    shots = tmp_path / "shots"
    shots.mkdir()
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"),  # a fresh profile (--user-data-dir)
            executable_path=exe,
            args=ARGS,
            viewport={"width": 1200, "height": 820},
        )
        try:
            b = Browser(context.new_page(), shots)
            _log_in(b, base, admin)
            job_id = _submit_and_watch(b, base)
            _open_report(b, base)
            _workers_page(b, base)
            stack.stop(worker)  # the second job stays queued until it is cancelled
            _cancel_second_job(b, base)
            _other_pages(b, base)
            errors, blocked = list(b.errors), list(b.blocked)
            _error_page(b, base)
        finally:
            context.close()
    assert errors == [], errors
    assert blocked == [], blocked
    assert all(u.startswith((base + "/", "data:")) for u in b.requests), b.requests
    assert stack.job(job_id).state == "succeeded"
    out = os.environ.get("DASHBOARD_SCREENSHOTS")
    if out:
        for png in shots.glob("*.png"):
            shutil.copy(png, Path(out) / png.name)


def _log_in(b: Browser, base: str, token: str, jobs_empty: bool = True) -> None:
    page = b.page
    page.goto(f"{base}/jobs")
    assert urlsplit(page.url).path == "/login"
    b.shot("login")
    page.fill("#token", "tcplab_not-a-token")
    page.click("button[type=submit]")
    assert "unknown or revoked" in page.inner_text("[role=alert]")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/jobs")
    if jobs_empty:
        assert "No jobs" in page.inner_text("main")
        b.shot("jobs-empty")
    cookie = page.context.cookies()[0]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"


def _submit_and_watch(b: Browser, base: str) -> str:
    page = b.page
    page.click("a.button.primary")
    bad = fake_spec(name="typo")
    bad["arms"][1]["analyzer"] = "gtp4"
    page.fill("#spec_yaml", yaml.safe_dump(bad, sort_keys=False))
    page.click("button.primary")
    problems = page.inner_text("#problems")
    assert "arms[1].analyzer: unknown 'gtp4'" in problems, problems
    b.shot("submit-refused")
    spec = fake_spec(name="quickstart-fake", n_tools=N_TOOLS, shard_size=1)
    page.fill("#spec_yaml", yaml.safe_dump(spec, sort_keys=False))
    page.select_option("select[name=priority]", "9")
    page.click("button.primary")
    page.wait_for_url(f"{base}/jobs/job-*")
    job_id: str = urlsplit(page.url).path.rsplit("/", 1)[1]
    page.wait_for_function(
        "() => [...document.querySelectorAll('#progress .bar')]"
        ".every(b => b.getAttribute('aria-valuenow') === '100')",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "() => document.getElementById('state').textContent === 'succeeded'", timeout=WAIT_MS
    )
    labels = page.eval_on_selector_all("#progress .bar .label", "els => els.map(e => e.innerText)")
    assert labels == [f"{N_TOOLS} / {N_TOOLS}"] * 2, labels
    page.wait_for_function(
        "() => !document.querySelector('#cancel') && "
        "document.querySelector('#facts').innerText.includes('completed')",
        timeout=WAIT_MS,
    )
    frame = page.wait_for_selector("#report iframe", timeout=WAIT_MS)
    content = frame.content_frame()
    assert content is not None
    content.wait_for_load_state("load", timeout=WAIT_MS)
    assert content.title().startswith("tcplab report")
    b.shot("job-succeeded")
    return job_id


def _open_report(b: Browser, base: str) -> None:
    page = b.page
    href = page.get_attribute("#report-link", "href")
    assert href and href.startswith("/runs/")
    page.goto(base + href)
    assert page.title().startswith("tcplab report")
    b.shot("report")


def _cancel_second_job(b: Browser, base: str) -> None:
    page = b.page
    page.goto(f"{base}/submit")
    spec = fake_spec(name="second", n_tools=4)
    page.fill("#spec_yaml", yaml.safe_dump(spec, sort_keys=False))
    page.click("button.primary")
    page.wait_for_url(f"{base}/jobs/job-*")
    assert page.inner_text("#state") == "queued"
    page.click("#cancel")
    page.wait_for_function(
        "() => document.getElementById('state').textContent === 'cancelled'", timeout=WAIT_MS
    )
    assert "cancelled by ada before it ran" in page.inner_text("#reason")
    assert page.query_selector("#retry") is not None


def _workers_page(b: Browser, base: str) -> None:
    page = b.page
    page.goto(f"{base}/workers")
    assert page.inner_text("table .state") == "alive"
    b.shot("workers")


def _other_pages(b: Browser, base: str) -> None:
    page = b.page
    page.goto(f"{base}/jobs")
    rows = page.eval_on_selector_all("table.jobs tbody tr", "els => els.length")
    assert rows == 2
    b.shot("jobs")
    page.goto(f"{base}/jobs?state=cancelled")
    assert page.eval_on_selector_all("table.jobs tbody tr", "els => els.length") == 1
    page.goto(f"{base}/tokens")
    page.fill("input[name=username]", "bob")
    page.click("form.card button.primary")
    assert page.inner_text("#new-token").startswith("tcplab_")
    page.eval_on_selector("#new-token", "e => { e.textContent = 'tcplab_••••••••••••••••' }")
    b.shot("tokens")  # no token, even a throwaway one, in a committed picture


def _error_page(b: Browser, base: str) -> None:
    """Last: a 404 document is itself reported on the console as a failed load."""
    page = b.page
    response = page.goto(f"{base}/jobs/job-does-not-exist")
    assert response is not None and response.status == 404
    assert "Not found" in page.inner_text("h1")
    b.shot("error")


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
