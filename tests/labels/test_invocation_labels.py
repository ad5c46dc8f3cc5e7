"""Invocation label files: format checks, the split by tool group, two-labeler agreement."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.errors import LabelsError
from tcplab.labels import (
    check_invocation_labels,
    invocation_agreement,
    invocation_group,
    invocation_split_of,
    is_invocation_file,
    read_invocation_labels,
)

HEADER = "command_line,decision,risk_level,capabilities,rationale,labeler\n"


def _write(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_good_file_reads(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "l.csv",
        [
            "git status,APPROVE,SAFE,,read-only,A",
            '"rm -rf /",REJECT,CRITICAL,DESTRUCTIVE|FILE_MODIFICATION,wipes,A',
            "$X,REQUIRE_APPROVAL,UNKNOWN,,cannot tell,A",
        ],
    )
    assert is_invocation_file(path)
    labels = read_invocation_labels(path)
    assert len(labels) == 3
    rm = labels.labels["rm -rf /"]
    assert rm.decision.value == "REJECT" and "DESTRUCTIVE" in rm.capabilities
    assert {lb.split for lb in labels} <= {"dev", "test"}


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "l.csv",
        [
            "ls,MAYBE,SAFE,,x,A",
            "ls -l,APPROVE,UNKNOWN,,x,A",
            "cat,APPROVE,SAFE,BOGUS,x,A",
            "pwd,APPROVE,SAFE,,,A",
            "git status,APPROVE,SAFE,,x,A",
            "git status,CAUTION,SAFE,,x,A",
        ],
    )
    problems = check_invocation_labels(path)
    assert [p.split(":")[0] for p in problems] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "line 7",
    ]
    with pytest.raises(LabelsError):
        read_invocation_labels(path)
    tool = tmp_path / "tools.csv"
    tool.write_text("command,risk_level,capabilities,rationale,labeler\nls,SAFE,,x,A\n")
    assert not is_invocation_file(tool)


def test_split_is_by_tool_group_and_fixed() -> None:
    assert invocation_group("/usr/bin/git push -f") == "git"
    assert invocation_group("  'rm' -rf x") == "rm"
    assert invocation_group("") == ""
    for tool in ("git", "rm", "docker", "curl", "python3", "sudo", "find", "npm"):
        sides = {invocation_split_of(f"{tool} {arg}") for arg in ("a", "-b c", "--d=e f")}
        assert len(sides) == 1, tool  # every line of a tool is on one side
    # pinned: changing the salt or the fraction would move lines between dev and test
    assert [invocation_split_of(t) for t in ("git x", "rm x", "docker x", "curl x")] == [
        invocation_split_of("git"),
        invocation_split_of("rm"),
        invocation_split_of("docker"),
        invocation_split_of("curl"),
    ]


def test_agreement_on_common_lines(tmp_path: Path) -> None:
    a = _write(
        tmp_path / "a.csv",
        [
            "git status,APPROVE,SAFE,,x,A",
            "rm x,CAUTION,MEDIUM_RISK,,x,A",
            "rm -rf /,REJECT,CRITICAL,,x,A",
            "only-a,APPROVE,SAFE,,x,A",
        ],
    )
    b = _write(
        tmp_path / "b.csv",
        [
            "git status,APPROVE,SAFE,,x,B",
            "rm x,REQUIRE_APPROVAL,HIGH_RISK,,x,B",
            "rm -rf /,REJECT,CRITICAL,,x,B",
        ],
    )
    rep = invocation_agreement(read_invocation_labels(a), read_invocation_labels(b))
    assert rep["n_common"] == 3 and rep["only_a"] == 1 and rep["only_b"] == 0
    assert rep["decision_exact"] == pytest.approx(2 / 3)
    assert rep["level_exact"] == pytest.approx(2 / 3)
    assert 0 < rep["level_kappa_quadratic"] <= 1  # type: ignore[operator]
    assert [d["command_line"] for d in rep["disagreements"]] == ["rm x"]  # type: ignore[attr-defined,index]
    c = _write(tmp_path / "c.csv", ["other,APPROVE,SAFE,,x,C"])
    with pytest.raises(LabelsError, match="share no command line"):
        invocation_agreement(read_invocation_labels(a), read_invocation_labels(c))


def test_read_labels_takes_an_invocation_file_for_the_experiment_engine(tmp_path: Path) -> None:
    from tcplab.labels import read_labels

    path = _write(
        tmp_path / "l.csv",
        ["git status,APPROVE,SAFE,,r,A", "$X,REQUIRE_APPROVAL,UNKNOWN,,r,A"],
    )
    labels = read_labels(path)
    assert list(labels.labels) == ["git status"]  # UNKNOWN is not a level: left out
    assert labels.labels["git status"].risk_level.name == "SAFE"
