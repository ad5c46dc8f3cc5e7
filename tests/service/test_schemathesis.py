"""schemathesis against the running API (every operation of the served OpenAPI schema, with an
admin token): no server error, every response conforms to the schema (status code, content
type, headers, body). Seeded and deterministic, a small example count (CI budget)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..store.conftest import need_module
from .conftest import Stack, fake_spec

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


def _finished_job(stack: Stack, token: str) -> tuple[str, str]:
    """A job that a worker ran to the end, and its run: the ids schemathesis uses for the
    ``{job_id}`` and ``{run_id}`` operations (a finished job: its event stream ends at once)."""
    worker = stack.worker()
    with stack.client(token) as http:
        job_id = http.post("/jobs", json={"spec": fake_spec(n_tools=4)}).json()["id"]
    done = stack.wait_state(job_id, ("succeeded", "failed", "cancelled"))
    assert done.state == "succeeded", (done.reason, stack.log("worker-0.log"))
    stack.stop(worker)
    return job_id, done.run_id


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    stack: Stack, tmp_path: Path
) -> None:
    need_module("schemathesis")
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "the schemathesis package has no console script"
    api = stack
    api.serve()
    token = api.token("st-admin", "admin")
    job_id, run_id = _finished_job(api, token)
    config = tmp_path / "schemathesis.toml"
    config.write_text(
        f'[parameters]\n"path.job_id" = "{job_id}"\n"path.run_id" = "{run_id}"\n'
        f'"query.a" = "{run_id}"\n"query.b" = "{run_id}"\n'
    )
    report = tmp_path / "st.xml"
    proc = subprocess.run(
        [
            binary,
            "--config-file",
            str(config),
            "run",
            f"{api.base}/api/v1/openapi.json",
            "--url",
            f"{api.base}",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            CHECKS,
            "--max-examples",
            "8",
            "--seed",
            "20261202",
            "--generation-deterministic",
            "--request-timeout",
            "20",
            "--workers",  # one: hypothesis' ast.parse in two threads at once can raise
            "1",  # "SystemError: AST constructor recursion depth mismatch" on CPython 3.11
            "--phases",
            "examples,coverage,fuzzing",
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,  # schemathesis keeps a .schemathesis/ cache in its working directory
    )
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, out + api.log("serve.log")[-2000:]
    assert "No issues found" in proc.stdout or "passed" in proc.stdout, out
    assert "Missing test data" not in proc.stdout, out  # every {job_id}/{run_id} op got data
