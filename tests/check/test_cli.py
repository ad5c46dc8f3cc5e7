"""``tcplab check`` exit codes and output, ``--serve`` and ``tcplab hook claude-code``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TCPLAB


def _run(*args: str, input: bytes | str | None = None) -> subprocess.CompletedProcess[bytes]:
    data = input.encode() if isinstance(input, str) else input
    return subprocess.run(
        [str(TCPLAB), *args], input=data, capture_output=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("args", "code", "decision"),
    [
        (["--", "ls", "-la"], 0, "APPROVE"),
        (["echo hi > out.txt"], 10, "CAUTION"),
        (["--", "unknown-tool", "x"], 20, "REQUIRE_APPROVAL"),
        (["--", "rm", "-rf", "/"], 30, "REJECT"),
        (["bash -c 'rm -rf /'"], 30, "REJECT"),
    ],
)
def test_exit_status_reflects_the_decision(args: list[str], code: int, decision: str) -> None:
    proc = _run("check", "--json", *args)
    assert proc.returncode == code, proc.stderr
    assert json.loads(proc.stdout)["decision"] == decision
    text = _run("check", *args)
    assert text.returncode == code
    assert text.stdout.decode().startswith(decision)


def test_argv_words_are_quoted_back() -> None:
    # `|` given as its own argv word is a literal argument, not a pipe
    proc = _run("check", "--json", "--", "echo", "|", "sh")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["command"] == "echo '|' sh"


def test_usage_errors_exit_2() -> None:
    assert _run("check").returncode == 2
    assert _run("hook", "other-agent", input="{}").returncode == 2
    assert _run("check", "--serve", "ls", input="").returncode == 2


def test_missing_registry_is_an_error_exit_1() -> None:
    proc = _run("check", "--registry", "/nonexistent/x.tcpdb", "ls")
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("error:")


def _hook(event: object) -> dict[str, object]:
    text = event if isinstance(event, str) else json.dumps(event)
    proc = _run("hook", "claude-code", input=text)
    assert proc.returncode == 0, proc.stderr
    answer: dict[str, object] = json.loads(proc.stdout)
    return answer


def _event(command: object, tool: str = "Bash") -> dict[str, object]:
    return {
        "session_id": "s",
        "transcript_path": "/tmp/t.jsonl",
        "cwd": "/tmp",
        "hook_event_name": "PreToolUse",
        "tool_name": tool,
        "tool_input": {"command": command, "description": "d"},
        "tool_use_id": "toolu_1",
    }


@pytest.mark.parametrize(
    ("command", "decision"),
    [("git status", "allow"), ("pip install x", "ask"), ("rm -rf /", "deny"), ("$X", "ask")],
)
def test_hook_answers_bash_calls(command: str, decision: str) -> None:
    out = _hook(_event(command))["hookSpecificOutput"]
    assert isinstance(out, dict)
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] == decision
    assert str(out["permissionDecisionReason"]).startswith("tcplab check:")


def test_hook_has_no_opinion_on_other_tools_and_asks_on_malformed() -> None:
    assert _hook(_event("x", tool="Read")) == {}
    for bad in ["", "not json", "[]", json.dumps({"tool_name": "Bash"}), json.dumps(_event(5))]:
        out = _hook(bad)["hookSpecificOutput"]
        assert isinstance(out, dict) and out["permissionDecision"] == "ask", bad
    proc = _run("hook", "claude-code", input=b"\xff\xfe{")
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["hookSpecificOutput"]["permissionDecision"] == "ask"


def test_serve_answers_every_line_in_one_process() -> None:
    lines = [
        json.dumps({"command": "ls", "id": 1}),
        json.dumps({"command": "rm -rf /", "id": "two"}),
        "not json",
        json.dumps({"id": 3}),
        "",
        json.dumps({"command": "git push --force", "id": None}),
    ]
    proc = _run("check", "--serve", input=b"\n".join(x.encode() for x in lines) + b"\n\xff\n")
    assert proc.returncode == 0, proc.stderr
    answers = [json.loads(x) for x in proc.stdout.decode().splitlines()]
    assert [a["decision"] for a in answers] == [
        "APPROVE",
        "REJECT",
        "REQUIRE_APPROVAL",
        "REQUIRE_APPROVAL",
        "REJECT",
        "REQUIRE_APPROVAL",
    ]
    assert [a["id"] for a in answers[:2]] == [1, "two"]
    assert "error" in answers[2] and "error" in answers[5]


def test_closed_stdin() -> None:
    hook = subprocess.run(
        [str(TCPLAB), "hook", "claude-code"], stdin=subprocess.DEVNULL, capture_output=True
    )
    assert hook.returncode == 0
    closed = "import os, sys; os.close(0); os.execv(sys.argv[1], sys.argv[1:])"
    for args in (["hook", "claude-code"], ["check", "--serve"]):
        proc = subprocess.run(
            [sys.executable, "-c", closed, str(TCPLAB), *args], capture_output=True, timeout=120
        )
        assert b"Traceback" not in proc.stderr, proc.stderr
        if args[0] == "hook":
            assert proc.returncode == 0
            answer = json.loads(proc.stdout)["hookSpecificOutput"]
            assert answer["permissionDecision"] == "ask"
        else:
            assert proc.returncode == 1
            assert proc.stderr.startswith(b"error:")


def test_explain_build_registry_and_labels(tmp_path: Path) -> None:
    proc = _run("check", "--explain", "sudo git push --force origin main")
    assert proc.returncode == 30, proc.stderr
    out = proc.stdout.decode()
    assert "node git > git push > git#19" in out and "invocations_v1.yaml: tools.git" in out
    assert "built-in wrapper table" in out
    proc = _run("check", "--json", "--explain", "git status")
    node = json.loads(proc.stdout)["explain"][0]
    assert node["path"][0] == "git" and node["kind"] == "pattern" and node["effect"] == "set"
    out_file = tmp_path / "v3.tcpdb"
    proc = _run("check", "--build-registry", str(out_file))
    assert proc.returncode == 0 and out_file.is_file(), proc.stderr
    proc = _run("check", "--registry", str(out_file), "--json", "git push -f")
    assert json.loads(proc.stdout)["registry"] == str(out_file)
    labels = tmp_path / "l.csv"
    labels.write_text(
        "command_line,decision,risk_level,capabilities,rationale,labeler\n"
        "git status,APPROVE,SAFE,,r,A\nrm -rf /,REJECT,CRITICAL,,r,A\n",
        encoding="utf-8",
    )
    proc = _run("check", "--labels", str(labels), "--split", "all")
    score = json.loads(proc.stdout)
    assert (score["n"], score["unsafe_approvals"], score["exact"]) == (2, 0, 2)
    assert _run("check", "--labels", str(labels), "--split", "nope").returncode == 2
