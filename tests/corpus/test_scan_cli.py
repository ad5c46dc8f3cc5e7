"""``tcplab corpus scan`` / ``show`` end to end, through the real entry point."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("groff") is None or not Path("/usr/bin/ls").exists(), reason="needs groff and ls"
)


def tcplab(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TCPLAB_HOME": str(home), "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-c", "from tcplab.cli.main import main; main()", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip


@pytest.fixture
def bin_dir(tmp_path: Path) -> Path:
    d = tmp_path / "bin"
    d.mkdir()
    (d / "ls").symlink_to("/usr/bin/ls")
    (d / "ghost").symlink_to(tmp_path / "missing")
    return d


def test_scan_writes_default_corpus_and_rescan_reports_reuse(bin_dir: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = tcplab("corpus", "scan", "--path-dirs", str(bin_dir), home=home)
    assert first.returncode == 0, first.stderr
    assert "2 tools found, 1 with man page, 0 reused" in first.stdout
    assert "1 errors" in first.stdout
    assert (home / "corpus" / "corpus.parquet").is_file()
    second = tcplab("corpus", "scan", "--path-dirs", str(bin_dir), home=home)
    assert "1 reused (0 rendered)" in second.stdout


def test_show_prints_abbreviated_sections_and_json(bin_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.jsonl"
    scan = tcplab("corpus", "scan", "--path-dirs", str(bin_dir), "--out", str(out), home=tmp_path)
    assert scan.returncode == 0 and "(jsonl)" in scan.stdout
    shown = tcplab("corpus", "show", "ls", "--corpus", str(out), home=tmp_path)
    assert shown.returncode == 0
    assert "list directory contents" in shown.stdout and "lines," in shown.stdout
    row = json.loads(
        tcplab("corpus", "show", "ls", "--corpus", str(out), "--json", home=tmp_path).stdout
    )
    assert row["doc_source"] == "man" and "NAME" in row["sections"]
    missing = tcplab("corpus", "show", "lss", "--corpus", str(out), home=tmp_path)
    assert missing.returncode == 1 and "did you mean ls" in missing.stderr


def test_bad_input_fails_in_one_line_before_scanning(tmp_path: Path) -> None:
    nodir = tcplab("corpus", "scan", "--path-dirs", str(tmp_path / "nope"), home=tmp_path)
    assert nodir.returncode == 1
    assert nodir.stderr.count("\n") == 1 and "does not exist" in nodir.stderr
    (tmp_path / "file").write_text("x")
    unwritable = tcplab(
        "corpus", "scan", "--out", str(tmp_path / "file" / "c.parquet"), home=tmp_path
    )
    assert unwritable.returncode == 1 and "not a writable directory" in unwritable.stderr
    no_corpus = tcplab(
        "corpus", "show", "ls", "--corpus", str(tmp_path / "x.parquet"), home=tmp_path
    )
    assert no_corpus.returncode == 1 and "does not exist" in no_corpus.stderr
