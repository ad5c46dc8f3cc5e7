"""Long-lived and per-call front ends: ``check --serve`` (JSON lines) and the Claude Code hook.

Both never raise on their input: any malformed event or line gets a valid answer with the safe
decision (REQUIRE_APPROVAL, i.e. ``ask`` for the hook) and the error in words.
"""

from __future__ import annotations

import json
import os
from typing import IO, Any

from tcplab.check._engine import SCHEMA_VERSION, Part, evaluate, result_dict
from tcplab.check._knowledge import more_severe, severity
from tcplab.descriptor import Decision, RiskLevel, decide

__all__ = ["HOOK_DECISIONS", "hook_answer", "serve", "serve_answer", "summary"]

HOOK_DECISIONS = {
    "APPROVE": "allow",
    "CAUTION": "ask",
    "REQUIRE_APPROVAL": "ask",
    "REJECT": "deny",
}
_MAX_REASON = 600


def _error(message: str, ident: Any = None) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "id": ident,
        "error": message,
        "decision": "REQUIRE_APPROVAL",
        "risk_level": "UNKNOWN",
        "capabilities": [],
        "reasons": [],
    }


def summary(parts: list[Part]) -> tuple[Decision, str]:
    """The decision of a line's parts and one line: it and the most severe reasons."""
    level = RiskLevel.SAFE
    for part in parts:
        level = more_severe(level, part[3])
    worst = sorted(parts, key=lambda p: -severity(p[3]))  # stable: line order within a level
    why = [f"{p[0].strip()[:60]!r}: {p[5]}" for p in worst[:3] if p[5]]
    decision = decide(level)
    text = f"tcplab check: {decision.value} ({level.name})"
    if why:
        text += " - " + "; ".join(why)
    return decision, text[:_MAX_REASON]


def serve_answer(line: str) -> dict[str, Any]:
    """The answer to one ``--serve`` input line: ``{"command": "...", "id": any}``, with an
    optional ``"cwd"`` (the directory the line will run in: git's repository context)."""
    try:
        event = json.loads(line)
    except (ValueError, RecursionError) as exc:
        return _error(f"not JSON: {exc}")
    if not isinstance(event, dict):
        return _error("expected a JSON object with a 'command' string")
    ident = event.get("id")
    command = event.get("command")
    if not isinstance(command, str):
        return _error("'command' must be a string", ident)
    cwd = event.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        return _error("'cwd' must be a string (the directory the line runs in)", ident)
    try:
        answer = result_dict(evaluate(command, cwd=cwd), command)
    except Exception as exc:  # the safe answer, never a crash
        return _error(f"check failed: {type(exc).__name__}: {exc}", ident)
    answer["id"] = ident
    return answer


def serve(stdin: IO[bytes], stdout: IO[str]) -> int:
    """Answer each input line (UTF-8 JSON) with one JSON line until end of input; returns 0."""
    for raw in stdin:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            answer = _error(f"not UTF-8: {exc}")
        else:
            if not line.strip():
                continue
            answer = serve_answer(line)
        stdout.write(json.dumps(answer, separators=(",", ":")) + "\n")
        stdout.flush()
    return 0


def _hook_output(decision: str, reason: str) -> dict[str, Any]:
    return {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": reason[:_MAX_REASON],
        }
    }


def hook_answer(text: str) -> dict[str, Any]:
    """The Claude Code ``PreToolUse`` answer to one hook event (the JSON on the hook's stdin).

    Bash tool calls get ``allow`` / ``ask`` / ``deny`` with the reason; other tools and other
    events get ``{}`` (no opinion); a malformed event gets ``ask``. The event's ``cwd`` (the
    hook process's own directory when the event has none) is the line's directory: git
    commands are also judged by the repository there (``docs/check.md``).
    """
    try:
        event = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return _hook_output("ask", f"tcplab check: the hook event is not JSON ({exc})")
    if not isinstance(event, dict):
        return _hook_output("ask", "tcplab check: the hook event is not a JSON object")
    name = event.get("hook_event_name", "PreToolUse")
    tool = event.get("tool_name")
    if name != "PreToolUse" or (isinstance(tool, str) and tool != "Bash"):
        return {}
    tool_input = event.get("tool_input")
    command = tool_input.get("command") if isinstance(tool_input, dict) else None
    if tool != "Bash" or not isinstance(command, str):
        return _hook_output("ask", "tcplab check: a Bash event without a command string")
    cwd = event.get("cwd")
    try:
        if not isinstance(cwd, str) or not cwd:
            cwd = os.getcwd()
        decision, reason = summary(evaluate(command, cwd=cwd).parts)
    except Exception as exc:  # the safe answer, never a crash
        return _hook_output("ask", f"tcplab check failed: {type(exc).__name__}: {exc}")
    return _hook_output(HOOK_DECISIONS[decision.value], reason)
