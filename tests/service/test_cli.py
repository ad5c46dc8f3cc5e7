"""The service commands through the real console script: token, submit --wait, jobs, errors in
one line; importing tcplab (or the service package) imports no server library."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from ..conftest import TCPLAB
from .conftest import Stack, fake_spec


def _run(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(TCPLAB), *args], env=stack.env, capture_output=True, text=True, timeout=180
    )


def test_cli_token_submit_wait_jobs_and_one_line_errors(stack: Stack, tmp_path: object) -> None:
    created = _run(stack, "token", "create", "--user", "carol", "--role", "submitter")
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("tcplab_") and "shown this once" in created.stderr
    base = stack.serve()
    stack.worker()
    client = ["--url", base, "--token", token]
    spec = stack.home / "spec.yaml"
    spec.write_text(yaml.safe_dump(fake_spec(n_tools=4)))
    sub = _run(stack, "submit", str(spec), "--wait", "--priority", "8", *client)
    assert sub.returncode == 0, sub.stderr
    job_id, state = sub.stdout.split()[:2]
    assert state == "succeeded"
    listed = _run(stack, "jobs", "list", *client)
    assert listed.returncode == 0 and f"{job_id}\tsucceeded\thigh\tcarol\t8/8" in listed.stdout
    shown = json.loads(_run(stack, "jobs", "show", job_id, "--json", *client).stdout)
    assert shown["progress"]["trials_done"] == 8 and shown["run_status"] == "completed"
    bad = stack.home / "bad.yaml"
    bad.write_text(yaml.safe_dump(fake_spec(arms=[{"name": "x", "analyzer": "gtp4"}])))
    refused = _run(stack, "submit", str(bad), *client)
    assert refused.returncode != 0 and refused.stdout == ""
    lines = refused.stderr.strip().splitlines()
    assert lines[0].startswith("error: the spec has 1 problem(s)")
    assert lines[1].startswith("  - arms[0].analyzer: unknown 'gtp4'")
    tokens = _run(stack, "token", "list").stdout
    token_id = next(line.split("\t")[0] for line in tokens.splitlines() if "\tcarol\t" in line)
    assert token not in tokens  # never the secret
    assert _run(stack, "token", "revoke", token_id).returncode == 0
    denied = _run(stack, "jobs", "list", *client)
    assert denied.returncode != 0
    assert denied.stderr.strip() == "error: unknown or revoked token (HTTP 401)"


def test_service_needs_postgresql_one_line(stack: Stack) -> None:
    for args in (["serve", "--db", "sqlite:///x.sqlite"], ["worker", "--db", "sqlite:///x"]):
        r = _run(stack, *args)
        assert r.returncode != 0
        assert r.stderr.startswith("error: the experiment service needs PostgreSQL"), r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    down = _run(stack, "token", "list", "--db", "postgresql://tcplab:pw@127.0.0.1:1/none")
    assert down.returncode != 0 and len(down.stderr.strip().splitlines()) == 1
    assert "pw" not in down.stderr and "cannot be used" in down.stderr, down.stderr


def test_importing_tcplab_imports_no_server_library() -> None:
    code = (
        "import sys, tcplab, tcplab.service, tcplab.service.client, tcplab.cli.service\n"
        "heavy = ('fastapi', 'starlette', 'uvicorn', 'procrastinate', 'sqlalchemy', 'httpx')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spec_size_limit_is_the_clis() -> None:
    from tcplab.experiment._spec import MAX_SPEC_BYTES
    from tcplab.service._settings import MAX_SPEC_BYTES as SERVICE_MAX

    assert SERVICE_MAX == MAX_SPEC_BYTES
