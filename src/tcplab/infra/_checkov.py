"""Run ``checkov`` (a separate tool, installed in its own virtualenv: its pins conflict with
ours) over a rendering and hold the result against a baseline of accepted findings.

Checkov without a Prisma Cloud API key reports no severities, so the baseline carries our own
assessment: an accepted finding must say why and may not be ``high``; any failed check not in
the baseline counts as unexplained (treated like a high-severity failure).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tcplab.errors import ConfigError, MissingDependencyError

__all__ = ["Baseline", "CheckovReport", "find_checkov", "load_baseline", "run_checkov"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accepted(_Model):
    """One accepted finding: a check (each applies to one or two resource types), and why."""

    check_id: str = Field(pattern=r"^CKV2?_[A-Z0-9]+_\d+$")
    severity: Literal["low", "medium"]
    reason: str = Field(min_length=20)


class Baseline(_Model):
    """``deploy/terraform/checkov-baseline.yaml`` (schema version 1)."""

    schema_version: Literal[1] = 1
    accepted: list[Accepted]

    def covers(self, check_id: str) -> bool:
        """Whether a failed ``check_id`` is accepted."""
        return any(a.check_id == check_id for a in self.accepted)


def load_baseline(path: Path) -> Baseline:
    """Read and validate a baseline file.

    Raises:
        ConfigError: unreadable or invalid.
    """
    try:
        return Baseline.model_validate(yaml.safe_load(path.read_text("utf-8")))
    except ValidationError as exc:
        where = [
            f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors()
        ]
        raise ConfigError(f"{path}: not a valid checkov baseline: {'; '.join(where)}") from None
    except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: not UTF-8
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not a valid checkov baseline: {reason}") from exc


@dataclass
class CheckovReport:
    """Passed/failed counts, the failures not in the baseline, and unused baseline entries."""

    version: str
    passed: int
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    unexplained: list[tuple[str, str, str]] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)


def find_checkov() -> str:
    """The checkov executable: ``TCPLAB_CHECKOV``, ``checkov`` on PATH, or
    ``.venv-checkov/bin/checkov`` under the current directory.

    Raises:
        MissingDependencyError: neither exists (names how to install it).
    """
    local = Path(".venv-checkov/bin/checkov")  # what `make checkov` creates in a checkout
    found = os.environ.get("TCPLAB_CHECKOV") or shutil.which("checkov")
    found = found or (str(local) if local.exists() else None)
    if not found or not Path(found).exists():
        raise MissingDependencyError(
            "checkov is not installed: `make checkov` creates .venv-checkov (or"
            " `pip install checkov` in a separate virtualenv) and TCPLAB_CHECKOV names it"
        )
    return found


def run_checkov(
    directory: Path, baseline: Baseline, *, checkov: str | None = None
) -> CheckovReport:
    """Scan every module under ``directory`` (Terraform JSON, offline: no download, no API)."""
    exe = checkov or find_checkov()
    # versions.tf.json holds only the terraform block (pins, backend), which checkov 3.3's
    # terraform_json parser cannot read ("this method receives only dicts"); nothing in it is
    # a resource a check applies to
    cmd = [
        exe,
        "-d",
        str(directory),
        "--framework",
        "terraform_json",
        "--output",
        "json",
        "--quiet",
        "--compact",
        "--skip-download",
        "--skip-path",
        r"versions\.tf\.json$",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BC_", "PRISMA_"))}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise ConfigError(f"cannot run checkov ({exe}): {reason}") from exc
    if proc.returncode not in (0, 1):
        raise ConfigError(f"checkov failed ({proc.returncode}): {_tail(proc.stderr)}")
    if "Failed to parse" in proc.stderr:
        raise ConfigError(f"checkov could not parse the rendering: {_tail(proc.stderr)}")
    try:
        data: Any = json.loads(proc.stdout or "[]")
    except ValueError:
        raise ConfigError(f"{exe} printed no checkov JSON report: {_tail(proc.stdout)}") from None
    results = [b for b in (data if isinstance(data, list) else [data]) if isinstance(b, dict)]
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    report = CheckovReport(version=version, passed=0)
    for block in results:
        res = block.get("results", {})
        report.passed += int(block.get("summary", {}).get("passed", 0))
        for f in res.get("failed_checks", []):
            report.failed.append((f["check_id"], f["resource"], f.get("file_path", "")))
    report.unexplained = [f for f in report.failed if not baseline.covers(f[0])]
    seen = {c for c, _, _ in report.failed}
    report.unused = [a.check_id for a in baseline.accepted if a.check_id not in seen]
    return report


def _tail(text: str) -> str:
    """The end of a tool's output as one line."""
    return " ".join(text.split())[-500:]
