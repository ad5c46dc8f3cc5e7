"""``--help`` capture: never without ``allow_help``, and then only inside the sandbox."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcplab.corpus import scan_tools
from tcplab.corpus._help import capture_help, detect_sandbox

# The probe reports what it can see and leaves a trace, so a test can tell it ran.
PROBE = """#!/bin/sh
echo "usage: tcplab-probe [--help]"
echo "uid=$(/usr/bin/id -u)"
echo "env=[$(/usr/bin/env | /usr/bin/tr '\\n' ' ')]"
echo "ifaces=$(/usr/bin/tail -n +3 /proc/net/dev | /usr/bin/wc -l)"
/usr/bin/touch ./written 2>/dev/null && echo "cwd=writable" || echo "cwd=readonly"
read line && echo "stdin=open" || echo "stdin=closed"
/usr/bin/touch {trace}
"""


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory the unprivileged sandbox user can enter (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="tcplab-help-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.fixture
def probe_dir(shared_dir: Path) -> Path:
    bin_dir = shared_dir / "bin"
    bin_dir.mkdir()
    traces = shared_dir / "traces"
    traces.mkdir()
    traces.chmod(0o777)
    probe = bin_dir / "tcplab-probe"
    probe.write_text(PROBE.format(trace=traces / "ran"))
    probe.chmod(0o755)
    return bin_dir


def test_tools_are_never_run_without_allow_help(probe_dir: Path) -> None:
    row = scan_tools([probe_dir]).by_name()["tcplab-probe"]
    assert row.doc_source == "none"
    assert not (probe_dir.parent / "traces" / "ran").exists()


def test_allow_help_captures_help_inside_the_sandbox(probe_dir: Path) -> None:
    sandbox = detect_sandbox()
    if sandbox.refused:
        pytest.skip(f"no sandbox here: {sandbox.refused}")
    result = scan_tools([probe_dir], allow_help=True)
    row = result.by_name()["tcplab-probe"]
    assert (row.doc_source, row.error, result.n_help) == ("help", None, 1)
    assert row.doc_text.startswith("usage: tcplab-probe")
    assert row.sections == {"HELP": row.doc_text}
    assert (probe_dir.parent / "traces" / "ran").exists()
    facts = dict(line.split("=", 1) for line in row.doc_text.splitlines()[1:])
    assert facts["stdin"] == "closed"
    assert facts["cwd"] == "readonly"
    assert "HOME" not in facts["env"] and "PATH" not in facts["env"]
    if os.geteuid() == 0:
        assert facts["uid"] == "65534"
    if not sandbox.missing:
        assert facts["ifaces"] == "1"  # loopback only


def test_help_that_hangs_is_killed_after_the_timeout(shared_dir: Path) -> None:
    sandbox = detect_sandbox()
    if sandbox.refused:
        pytest.skip(f"no sandbox here: {sandbox.refused}")
    hang = shared_dir / "hang"
    hang.write_text("#!/bin/sh\n/usr/bin/sleep 30\n")
    hang.chmod(0o755)
    started = time.monotonic()
    text, why = capture_help(str(hang), sandbox, timeout=0.5)
    assert text is None and why == "--help timed out after 0.5s"
    assert time.monotonic() - started < 10


def test_help_that_cannot_execute_is_a_reason(shared_dir: Path) -> None:
    sandbox = detect_sandbox()
    if sandbox.refused:
        pytest.skip(f"no sandbox here: {sandbox.refused}")
    text, why = capture_help(str(shared_dir / "absent"), sandbox)
    assert text is None and why is not None and why.startswith("--help could not be run")
