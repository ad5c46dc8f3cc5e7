"""schemathesis against the running API (every operation of the served OpenAPI schema, with an
admin token): no server error, every response conforms to the schema (status code, content
type, headers, body). Seeded and deterministic, a small example count (CI budget)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from ..store.conftest import need_module
from .conftest import Stack

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    )
)


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    api: Stack, tmp_path: Path
) -> None:
    need_module("schemathesis")
    binary = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert binary is not None, "the schemathesis package has no console script"
    token = api.token("st-admin", "admin")
    report = tmp_path / "st.xml"
    proc = subprocess.run(
        [
            binary,
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
            "--workers",
            "2",
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
    )
    out = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, out + api.log("serve.log")[-2000:]
    assert "No issues found" in proc.stdout or "passed" in proc.stdout, out
