"""`tcplab run` refuses what it cannot run in one line, before any run directory exists."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

TCPLAB = Path(sys.executable).with_name("tcplab")


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **(env or {})}
    return subprocess.run(
        [str(TCPLAB), *args], capture_output=True, text=True, env=full, timeout=120
    )


def _refused(res: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert res.returncode in (1, 2), (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr, res.stderr
    first = res.stderr.strip().splitlines()[0]
    assert first.startswith("error:"), res.stderr
    for needle in needles:
        assert needle in res.stderr, res.stderr


def _no_runs(out: Path) -> None:
    assert not out.exists() or not any(out.iterdir()), list(out.iterdir())


@pytest.mark.parametrize(
    ("option", "needle"),
    [
        (["--executor", "bogus"], "unknown executor 'bogus'"),
        (["--db", "garbage://x"], "garbage"),
        (["--artifacts", "s3://"], "s3://"),
        (["--workers", "0"], "workers"),
        (["--sample-interval", "0.001"], "sample interval"),
    ],
)
def test_refused_option_leaves_no_orphan_run(
    option: list[str], needle: str, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    res = _run("run", str(write_spec()), "--out", str(out), *option)
    _refused(res, needle)
    _no_runs(out)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"labels": "/no/such/labels.csv"}, "labels"),
        ({"seed": -1}, "seed"),
        ({"arms": [{"name": "t", "analyzer": "fake", "params": {"bogus": 1}}]}, "bogus"),
        ({"arms": [{"name": "t", "analyzer": "tcp", "params": {"registry": "/no/r.tcpdb"}}]}, ""),
    ],
)
def test_spec_problem_found_before_the_run_exists(
    overrides: dict[str, object], needle: str, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    res = _run("run", str(write_spec(**overrides)), "--out", str(out))
    _refused(res, needle)
    _no_runs(out)


def test_malformed_and_duplicate_labels_are_refused(
    write_spec: Callable[..., Path], lab: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    dup = lab["dir"] / "dup.csv"
    dup.write_text(lab["labels"].read_text() + "tool01,SAFE,,again,test\n")
    _refused(_run("run", str(write_spec(labels=str(dup))), "--out", str(out)), "tool01")
    garbage = lab["dir"] / "garbage.csv"
    garbage.write_bytes(b"\x00\xff not,a\nlabels file")
    _refused(_run("run", str(write_spec(labels=str(garbage))), "--out", str(out)))
    _no_runs(out)


def test_corpus_that_is_a_csv_is_refused(
    write_spec: Callable[..., Path], lab: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    spec = write_spec(corpus=str(lab["labels"]), arms=[{"name": "rules", "analyzer": "rules"}])
    _refused(_run("run", str(spec), "--out", str(out)), "corpus")
    _no_runs(out)


@pytest.mark.parametrize("kind", ["devzero", "binary", "directory"])
def test_unreadable_spec_files_are_refused_in_bounded_memory(kind: str, tmp_path: Path) -> None:
    path = {"devzero": Path("/dev/zero"), "directory": tmp_path}.get(kind, tmp_path / "b.yaml")
    if kind == "binary":
        path.write_bytes(bytes(range(256)) * 8)
    res = _run("run", str(path), "--out", str(tmp_path / "runs"))
    _refused(res, "spec")


def test_out_that_is_a_file_is_refused(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    f = tmp_path / "a-file"
    f.write_text("x")
    _refused(_run("run", str(write_spec()), "--out", str(f)), "a-file")


@pytest.mark.parametrize("value", ["file", "empty"])
def test_tcplab_home_that_is_a_file_or_empty(
    value: str, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    if value == "file":
        home = tmp_path / "home-file"
        home.write_text("x")
        _refused(_run("runs", "list", env={"TCPLAB_HOME": str(home)}), "not a directory")
    else:
        xdg = tmp_path / "xdg"
        res = _run("runs", "list", "--json", env={"TCPLAB_HOME": "", "XDG_DATA_HOME": str(xdg)})
        assert res.returncode == 0, res.stderr
        assert not list(Path.cwd().glob("runs"))  # never the current directory


def test_damaged_run_records_are_one_line_errors(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    res = _run("run", str(write_spec()), "--out", str(out), "--no-db")
    assert res.returncode == 0, res.stderr
    run_dir = next(out.iterdir())
    (run_dir / "plan.parquet").write_bytes((run_dir / "plan.parquet").read_bytes()[:50])
    _refused(_run("run", "--resume", run_dir.name, "--out", str(out), "--no-db"), "plan.parquet")
    for bad in ("", "[1]", "{", '{"schema_version": 2}'):
        (run_dir / "run.json").write_text(bad)
        _refused(_run("runs", "show", str(run_dir)), "run.json")
        _refused(_run("run", "--resume", run_dir.name, "--out", str(out)), "run.json")


def _can_mount_tmpfs() -> bool:
    probe = "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d"
    try:
        return subprocess.run(["unshare", "--mount", "sh", "-c", probe], timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def test_disk_full_mid_run_is_one_line_and_resume_completes_exactly_once(
    write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    """A run on an 8 MiB tmpfs (private mount namespace) nearly filled by a ballast file: the
    run stops with one line naming the full disk; after the ballast goes, resume completes."""
    if not _can_mount_tmpfs():
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("cannot mount a tmpfs in a mount namespace (unshare --mount); CI needs it")
        pytest.skip("cannot mount a tmpfs in a mount namespace here")
    spec = write_spec(iterations=40, shard_size=8)
    script = f"""
set -u
mnt=$(mktemp -d)
mount -t tmpfs -o size=8m tmpfs "$mnt"
head -c 8200000 /dev/zero > "$mnt/ballast"
{TCPLAB} run {spec} --out "$mnt/runs" --no-db > "$mnt/../first.out" 2> {tmp_path}/first.err
echo "first=$?" > {tmp_path}/codes
rm "$mnt/ballast"
run=$(ls "$mnt/runs")
{TCPLAB} run --resume "$run" --out "$mnt/runs" --no-db > /dev/null 2> {tmp_path}/second.err
echo "second=$?" >> {tmp_path}/codes
{sys.executable} -c "
from tcplab.experiment import RunDir, read_trials
import sys
rd = RunDir(sys.argv[1])
rec = rd.read_record()
seqs = sorted(read_trials(rd.path, ['seq'])['seq'].to_pylist())
print(rec.status, len(seqs), rec.n_trials, seqs == list(range(rec.n_trials)))
" "$mnt/runs/$run" > {tmp_path}/check
"""
    res = subprocess.run(
        ["unshare", "--mount", "bash", "-c", script], capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr
    codes = dict(line.split("=") for line in (tmp_path / "codes").read_text().split())
    first = (tmp_path / "first.err").read_text()
    assert codes["first"] == "1", first
    assert "Traceback" not in first and "No space left on device" in first, first
    assert "--resume" in first
    assert codes["second"] == "0", (tmp_path / "second.err").read_text()
    status, n, planned, exact = (tmp_path / "check").read_text().split()
    assert status == "completed" and n == planned and exact == "True"
