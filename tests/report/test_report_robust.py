"""Run warnings in the report, and damaged runs reported in one line (never a traceback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tcplab.errors import UsageError
from tcplab.report import ReportSettings, build_report

from ..conftest import Runner
from .conftest import SyntheticRun

FAST = ReportSettings(n_resamples=200)
SATURATION = 'the client could not keep up: <b>1,204</b> calls & 3 "retries" [see *llm.md*]'


def test_run_warnings_are_shown_at_the_top_escaped(synthetic_run: SyntheticRun) -> None:
    run_dir = synthetic_run(n_tools=20, warnings=[SATURATION, "second warning"])
    files = build_report(run_dir, FAST)
    summary = json.loads(files.summary.read_text())
    assert summary["warnings"] == [SATURATION, "second warning"]
    page = files.html.read_text()
    assert "<b>1,204</b>" not in page and "&lt;b&gt;1,204&lt;/b&gt;" in page
    assert 'class="warnings" role="alert"' in page
    assert page.index('class="warnings"') < page.index("<h2>Key results</h2>")
    md = files.markdown.read_text()
    assert md.index("**Warning: this run reported 2 problem(s).**") < md.index("## Key results")
    assert "\\<b\\>1,204\\</b\\>" in md and "\\*llm.md\\*" in md and "<b>" not in md


def test_a_run_without_warnings_shows_none(synthetic_run: SyntheticRun) -> None:
    run_dir = synthetic_run(n_tools=20)
    doc = json.loads((run_dir / "run.json").read_text())
    doc.pop("warnings", None)  # an older run.json has no such key
    (run_dir / "run.json").write_text(json.dumps(doc))
    files = build_report(run_dir, FAST)
    assert json.loads(files.summary.read_text())["warnings"] == []
    assert 'class="warnings"' not in files.html.read_text()
    assert "Warning: this run" not in files.markdown.read_text()


def _copy(run: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "damaged"
    shutil.copytree(run, dest)
    return dest


def _truncate_shard(run_dir: Path) -> str:
    shard = sorted((run_dir / "trials").glob("shard-*.parquet"))[0]
    data = shard.read_bytes()
    shard.write_bytes(data[: len(data) // 2])
    return shard.name


def _garble_shard(run_dir: Path) -> str:
    shard = sorted((run_dir / "trials").glob("shard-*.parquet"))[-1]
    shard.write_bytes(b"\x00" * shard.stat().st_size)
    return shard.name


def _drop_shards(run_dir: Path) -> str:
    shutil.rmtree(run_dir / "trials")
    return "trials"


def _bad_json(run_dir: Path) -> str:
    (run_dir / "run.json").write_text('{"run_id": "x", ')
    return "run.json"


def _not_an_object(run_dir: Path) -> str:
    (run_dir / "run.json").write_text("[1, 2, 3]")
    return "run.json"


DAMAGE = {
    "truncated shard": _truncate_shard,
    "corrupt shard": _garble_shard,
    "no shards": _drop_shards,
    "invalid run.json": _bad_json,
    "run.json not an object": _not_an_object,
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_run_is_a_one_line_error(
    damage: str, real_run: Path, tmp_path: Path, tcplab: Runner
) -> None:
    run_dir = _copy(real_run, tmp_path)
    named = DAMAGE[damage](run_dir)
    with pytest.raises(UsageError, match=named.replace(".", r"\.")):
        build_report(run_dir, FAST)
    res = tcplab("report", str(run_dir), "--resamples", "50")
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and named in lines[0], res.stderr


def test_invalid_warnings_field_is_a_usage_error(synthetic_run: SyntheticRun) -> None:
    run_dir = synthetic_run(n_tools=10)
    doc = json.loads((run_dir / "run.json").read_text())
    doc["warnings"] = "not a list"
    (run_dir / "run.json").write_text(json.dumps(doc))
    with pytest.raises(UsageError, match="warnings"):
        build_report(run_dir, FAST)


def test_cli_report_prints_the_run_warnings(synthetic_run: SyntheticRun, tcplab: Runner) -> None:
    run_dir = synthetic_run(n_tools=10, warnings=["[bold]not markup[/bold] client saturated"])
    res = tcplab("report", str(run_dir), "--resamples", "50")
    assert res.returncode == 0, res.stderr
    assert "run warning: [bold]not markup[/bold] client saturated" in res.stderr
