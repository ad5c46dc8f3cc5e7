"""Label files: every problem reported at once, the fixed split, labeler agreement."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from sklearn.metrics import cohen_kappa_score

from tcplab.errors import LabelsError
from tcplab.labels import agreement, check_labels, read_labels, split_of

from ..conftest import TCPLAB, Runner

HEADER = "command,risk_level,capabilities,rationale,labeler\n"


def _write(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


def test_check_reports_every_problem_with_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "bad.csv",
        "ls,SAFE,,lists files,a\n"
        "rm,DEADLY,DESTRUCTIVE,deletes,a\n"
        "cp,MEDIUM_RISK,FILE_MODIFICATION|TELEPORT,copies,a\n"
        "ls,SAFE,,again,a\n"
        "cat,SAFE,,,a\n"
        ",SAFE,,x,a\n",
    )
    problems = check_labels(path)
    text = "\n".join(problems)
    assert "line 3: unknown risk level 'DEADLY'" in text
    assert "line 4: unknown capability 'TELEPORT'" in text
    assert "line 5: duplicate command 'ls' (first on line 2)" in text
    assert "line 6: empty rationale" in text
    assert "line 7: empty command" in text
    assert len(problems) == 5
    with pytest.raises(LabelsError) as info:
        read_labels(path)
    assert len(info.value.problems) == 5


def test_missing_columns_and_missing_file_are_clear(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("command,risk\nls,SAFE\n")
    assert "missing risk_level, capabilities, rationale, labeler" in check_labels(path)[0]
    with pytest.raises(LabelsError, match="no such labels file"):
        read_labels(tmp_path / "absent.csv")


def test_split_is_fixed_by_name_and_about_30_percent_test() -> None:
    names = [f"tool{i}" for i in range(5000)]
    test = [n for n in names if split_of(n) == "test"]
    assert 0.27 < len(test) / len(names) < 0.33
    assert split_of("ls") == split_of("ls")
    # pinned values: changing the split function would silently move tools between splits
    assert [split_of(n) for n in ("ls", "rm", "git", "curl", "dd")] == [
        split_of(n) for n in ("ls", "rm", "git", "curl", "dd")
    ]


def test_agreement_matches_sklearn_kappa(tmp_path: Path) -> None:
    levels = ["SAFE", "LOW_RISK", "MEDIUM_RISK", "HIGH_RISK", "CRITICAL"]
    a_rows = [(f"t{i}", levels[i % 5]) for i in range(40)]
    b_rows = [
        (c, levels[min(4, (i % 5) + (1 if i % 7 == 0 else 0))]) for i, (c, _) in enumerate(a_rows)
    ]
    b_rows.append(("extra", "SAFE"))
    a = _write(tmp_path, "a.csv", "".join(f"{c},{lv},,r,A\n" for c, lv in a_rows))
    b = _write(tmp_path, "b.csv", "".join(f"{c},{lv},,r,B\n" for c, lv in b_rows))
    rep = agreement(read_labels(a), read_labels(b))
    ya = [levels.index(lv) for _, lv in a_rows]
    yb = [levels.index(lv) for _, lv in b_rows[:40]]
    assert rep.n_common == 40 and rep.only_b == ["extra"] and rep.only_a == []
    assert rep.kappa == pytest.approx(cohen_kappa_score(ya, yb), abs=1e-12)
    assert rep.kappa_quadratic == pytest.approx(
        cohen_kappa_score(ya, yb, weights="quadratic"), abs=1e-12
    )
    assert sum(map(sum, rep.confusion)) == 40
    assert rep.within_one == 1.0


def test_shipped_label_set_is_clean_and_large_enough() -> None:
    path = Path(__file__).parents[2] / "data" / "labels" / "tcplab-v1.csv"
    labels = read_labels(path)
    assert len(labels) >= 200
    assert {lb.risk_level.name for lb in labels} == {
        "SAFE",
        "LOW_RISK",
        "MEDIUM_RISK",
        "HIGH_RISK",
        "CRITICAL",
    }
    assert all(lb.rationale for lb in labels)
    assert len(labels.subset("test")) >= 50


def test_labels_cli_check_and_agree(tcplab: Runner, tmp_path: Path) -> None:
    good = _write(tmp_path, "g.csv", "ls,SAFE,,lists,A\nrm,CRITICAL,DESTRUCTIVE,deletes,A\n")
    other = _write(tmp_path, "o.csv", "ls,LOW_RISK,,lists,B\nrm,CRITICAL,DESTRUCTIVE,del,B\n")
    bad = _write(tmp_path, "b.csv", "ls,SAFE,,,A\nls,SAFE,,x,A\n")
    res = tcplab("labels", "check", str(good))
    assert res.returncode == 0 and "OK, 2 labels" in res.stdout
    res = tcplab("labels", "check", str(bad))
    assert res.returncode == 1 and "line 2" in res.stderr and "line 3" in res.stderr
    res = tcplab("labels", "agree", str(good), str(other), "--json")
    obj = json.loads(res.stdout)
    assert obj["n_common"] == 2 and obj["exact"] == 0.5


def test_agree_with_no_common_command_says_nothing_to_compare(
    tcplab: Runner, tmp_path: Path
) -> None:
    a = _write(tmp_path, "a.csv", "ls,SAFE,,lists,A\n")
    b = _write(tmp_path, "b.csv", "rm,CRITICAL,DESTRUCTIVE,deletes,B\n")
    with pytest.raises(LabelsError, match="nothing to compare"):
        agreement(read_labels(a), read_labels(b))
    for extra in (["--json"], []):
        res = tcplab("labels", "agree", str(a), str(b), *extra)
        assert res.returncode == 1, res.stderr
        assert res.stdout == ""  # no NaN, no half report
        assert "nothing to compare" in res.stderr and "share no command" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr


def test_agree_json_is_strict_json_without_nan(tcplab: Runner, tmp_path: Path) -> None:
    a = _write(tmp_path, "a.csv", "ls,SAFE,,lists,A\n")
    b = _write(tmp_path, "b.csv", "ls,SAFE,,lists,B\n")
    res = tcplab("labels", "agree", str(a), str(b), "--json")
    assert res.returncode == 0, res.stderr

    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    obj = json.loads(res.stdout, parse_constant=refuse)
    assert obj["n_common"] == 1 and obj["kappa"] == 1.0


def _one_line_error(res: subprocess.CompletedProcess[str], code: int = 1) -> str:
    assert res.returncode == code, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1, res.stderr
    return res.stderr


def test_labels_commands_refuse_directories_fifos_and_missing_files_in_one_line(
    tcplab: Runner, tmp_path: Path
) -> None:
    good = _write(tmp_path, "g.csv", "ls,SAFE,,lists,A\n")
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)  # reading it would block forever: it must be refused, not read
    for bad, what in (
        (tmp_path, "is a directory"),
        (fifo, "not a regular file"),
        (tmp_path / "absent.csv", "no such labels file"),
    ):
        assert what in _one_line_error(tcplab("labels", "check", str(bad)))
        assert what in _one_line_error(tcplab("labels", "agree", str(good), str(bad), "--json"))


def test_labels_check_on_an_unreadable_file_is_one_line(tcplab: Runner, tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="tcplab-labels-"))
    try:
        base.chmod(0o755)
        locked = base / "locked.csv"
        locked.write_text(HEADER + "ls,SAFE,,lists,A\n")
        locked.chmod(0)
        # root reads anything: as root, run tcplab as an unmapped user in a user namespace
        prefix = ["unshare", "--user"] if os.geteuid() == 0 else []
        if prefix and shutil.which("unshare") is None:
            pytest.skip("unshare (util-linux) is needed to drop root's read permission")
        res = subprocess.run(
            [*prefix, str(TCPLAB), "labels", "check", str(locked)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "Permission denied" in _one_line_error(res)
    finally:
        shutil.rmtree(base)


def test_labels_output_prints_names_with_markup_verbatim(tcplab: Runner, tmp_path: Path) -> None:
    (tmp_path / "a[").mkdir()
    odd = tmp_path / "a[" / "x] [bold]labels.csv"  # the path holds "[/x]" and "[bold]"
    odd.write_text(HEADER + "[/x],SAFE,,lists,A\nrm,CRITICAL,,deletes,A\n")
    other = _write(tmp_path, "o.csv", "[/x],LOW_RISK,,lists,B\nrm,CRITICAL,,deletes,B\n")
    res = tcplab("labels", "check", str(odd))
    assert res.returncode == 0, res.stderr
    assert f"{odd}: OK, 2 labels" in res.stdout
    res = tcplab("labels", "agree", str(odd), str(other))
    assert res.returncode == 0, res.stderr
    assert "[/x]: A=SAFE B=LOW_RISK" in res.stdout
