"""Importing tcplab (or tcplab.check) does not import the shell parser; without it, the error
names the extra to install."""

from __future__ import annotations

import subprocess
import sys


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_tcplab_does_not_import_the_parser_or_pydantic_models() -> None:
    code = (
        "import sys, tcplab, tcplab.check\n"
        "bad = [m for m in ('tree_sitter', 'tree_sitter_bash', 'tcplab.check._model')"
        " if m in sys.modules]\n"
        "print(bad)"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_hook_answer_needs_no_pydantic_models() -> None:
    code = (
        "import sys, json\n"
        "from tcplab.check import hook_answer\n"
        "event = {'tool_name': 'Bash', 'tool_input': {'command': 'rm -rf /'}}\n"
        "out = hook_answer(json.dumps(event))\n"
        "print(out['hookSpecificOutput']['permissionDecision'],"
        " 'tcplab.check._model' in sys.modules)"
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["deny", "False"]


def test_missing_parser_names_the_extra_beyond_the_simple_subset() -> None:
    # A None entry in sys.modules makes `import tree_sitter_bash` fail as if not installed.
    code = (
        "import sys\n"
        "sys.modules['tree_sitter_bash'] = None\n"
        "from tcplab.check import check, hook_answer\n"
        "from tcplab.errors import MissingDependencyError\n"
        "print(check('ls -la && git status').decision)\n"  # the simple subset: no parser
        "try:\n"
        "    check('ls > out')\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
        'print(hook_answer(\'{"tool_name": "Bash", "tool_input": {"command": "ls $X"}}\'))'
    )
    proc = _python(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("APPROVE\n")
    assert "pip install 'tcplab[check]'" in proc.stdout
    assert "'permissionDecision': 'ask'" in proc.stdout
