"""Fuzzed hook events and --serve lines: no crash, always a valid, safe-by-default answer."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tcplab.check import (
    HOOK_DECISIONS,
    CheckResult,
    check,
    decide_line,
    hook_answer,
    serve,
    serve_answer,
)

DECISIONS = {"APPROVE", "CAUTION", "REQUIRE_APPROVAL", "REJECT"}
SEEDS = [
    "rm -rf /",
    "git push --force origin main",
    "bash -c 'curl x | sh'",
    "find . -exec rm {} \\;",
    "cat <<EOF\n$(id)\nEOF",
    "echo x > /dev/sda",
    "sudo env A=1 nice -n 5 timeout 3 xargs rm",
]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


_KEYS = st.sampled_from(["hook_event_name", "tool_name", "tool_input"])


def _valid_hook(answer: dict[str, Any]) -> None:
    json.dumps(answer)
    if answer == {}:
        return
    out = answer["hookSpecificOutput"]
    assert out["hookEventName"] == "PreToolUse"
    assert out["permissionDecision"] in {"allow", "ask", "deny"}
    assert isinstance(out["permissionDecisionReason"], str)


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(3)
        pos = rng.randrange(len(chars) + 1)
        if op == 0 and chars:
            del chars[min(pos, len(chars) - 1)]
        elif op == 1:
            chars.insert(pos, rng.choice("'\"`$(){}[];|&<>\\\n #*~-=x\x00\udc80"))
        else:
            chars[pos:pos] = list(rng.choice(SEEDS))
    return "".join(chars)


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_check_never_crashes_on_text(line: str) -> None:
    result = check(line)
    assert result.decision in DECISIONS


def test_mutated_command_lines(tmp_path: Path) -> None:
    rng = random.Random(16)
    for _ in range(2000):
        line = _mutate(rng, rng.choice(SEEDS))
        result = check(line)
        assert result.decision in DECISIONS
        served = serve_answer(json.dumps({"command": line, "id": 9}))
        assert served == {**result.model_dump(), "id": 9}
        assert CheckResult.model_validate({k: v for k, v in served.items() if k != "id"}) == result
        decision, level = decide_line(line)
        assert (decision.value, level.name) == (result.decision, result.risk_level)
        event = {"hook_event_name": "PreToolUse", "tool_name": "Bash", "cwd": str(tmp_path)}
        event["tool_input"] = {"command": line}  # type: ignore[assignment]
        answer = hook_answer(json.dumps(event))
        _valid_hook(answer)
        expected = HOOK_DECISIONS[check(line, cwd=tmp_path).decision]  # the event's directory
        assert answer["hookSpecificOutput"]["permissionDecision"] == expected


@settings(max_examples=300)
@given(json_values)
def test_hook_random_events(value: Any) -> None:
    _valid_hook(hook_answer(json.dumps(value)))


@settings(max_examples=300)
@given(st.dictionaries(_KEYS, json_values))
def test_hook_random_shaped_events(event: dict[str, Any]) -> None:
    answer = hook_answer(json.dumps(event))
    _valid_hook(answer)
    bash = event.get("tool_name") == "Bash"
    pre = event.get("hook_event_name", "PreToolUse") == "PreToolUse"
    if bash and pre and not isinstance(event.get("tool_input"), dict):
        assert answer["hookSpecificOutput"]["permissionDecision"] == "ask"


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_hook_random_text(text: str) -> None:
    _valid_hook(hook_answer(text))


@settings(max_examples=300)
@given(json_values)
def test_serve_random_lines(value: Any) -> None:
    answer = serve_answer(json.dumps(value))
    assert answer["decision"] in DECISIONS
    if not (isinstance(value, dict) and isinstance(value.get("command"), str)):
        assert answer["decision"] == "REQUIRE_APPROVAL" and "error" in answer


def test_serve_loop_on_random_bytes() -> None:
    rng = random.Random(7)
    lines = [bytes(rng.randrange(256) for _ in range(rng.randrange(60))) for _ in range(300)]
    lines += [json.dumps({"command": _mutate(rng, s)}).encode() for s in SEEDS * 20]
    raw = b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n"
    out = io.StringIO()
    assert serve(io.BytesIO(raw), out) == 0
    answers = [json.loads(x) for x in out.getvalue().splitlines()]
    expected = sum(1 for x in raw.split(b"\n")[:-1] if x.decode("utf-8", "replace").strip())
    assert len(answers) == expected
    assert all(a["decision"] in DECISIONS for a in answers)
