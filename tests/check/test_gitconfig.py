"""The config reader against git itself: same entries as ``git config --list -z``, and a file
git refuses is refused (the check then gives UNKNOWN, never a silent approval)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tcplab.check._gitconfig import ALL, NETWORK, ConfigError, parse_config, program_keys

if shutil.which("git") is None and os.environ.get("CI") == "true":
    raise RuntimeError("git is needed by tests/check/test_gitconfig.py (it is in the base image)")
pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

CONFIGS = [
    "[core]\n\tfsmonitor = ./x.sh\n",
    '[core]\n\tbare\n\tpager = "less  -R" ; comment\n',
    '[diff "x y"] textconv = a\\\n b\n',
    '[a.B]\n\tK = "q\\"t"  x  # c\n',
    "# only a comment\n; another\n\n",
    '[remote "origin"]\n\turl = ext::sh -c touch% /tmp/x\n\tfetch = +refs/*:refs/*\n',
    '[alias]\n\tst = "!sh -c \'echo \\"hi\\"\'"\n',
    "[CORE]\n\tFsMonitor=  spaced value  \n",
    '[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\trequired\n',
    "\ufeff[core]\n\tpager = cat\n",
    "[core]\r\n\teditor = vim\r\n",
    '[sec "sub\\\\with\\"quote"]\n\tk = v\n',
    "[core]\n\tk = a\\tb\\nc\n",
    "[core] a = 1\n[core]b\n",
    "k = before any section\n[core]\n\tk\n",
]
REFUSED = [
    "[core\n\tk = v\n",
    '[core]\n\tk = "unterminated\n',
    "[core]\n\tk = bad \\q escape\n",
    "[core]\n\t1k = v\n",
    "[core]\n\tk v\n",
]


def _git_list(path: Path) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ["PATH"], "HOME": str(path.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(
        ["git", "config", "--file", str(path), "--list", "-z"],
        env=env,
        capture_output=True,
        check=False,
    )


def _ours(text: str) -> list[str]:
    out = []
    for section, sub, name, value in parse_config(text):
        key = f"{section}.{sub}.{name}" if sub is not None else f"{section}.{name}"
        key = key.lstrip(".")  # a key before any section
        out.append(key if value is None else f"{key}\n{value}")
    return out


@pytest.mark.parametrize("text", CONFIGS)
def test_same_entries_as_git(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text, encoding="utf-8", newline="")
    proc = _git_list(path)
    assert proc.returncode == 0, proc.stderr
    theirs = [e for e in proc.stdout.decode().split("\0") if e]
    assert _ours(text) == theirs


@pytest.mark.parametrize("text", REFUSED)
def test_refused_like_git(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    assert _git_list(path).returncode != 0
    with pytest.raises(ConfigError):
        parse_config(text)


def test_program_keys_scopes() -> None:
    found = program_keys(
        parse_config(
            "[core]\n\tfsmonitor = x\n\tsshCommand = s\n[alias]\n\tST = !x\n[pager]\n\tlog = p\n"
            "[core]\n\tfsmonitor = true\n[credential]\n\thelper = cache\n"
        )
    )
    assert [(scope, key) for scope, key, _ in found] == [
        (ALL, "core.fsmonitor"),
        (NETWORK, "core.sshcommand"),
        (frozenset({"st"}), "alias.st"),
        (frozenset({"log"}), "pager.log"),
    ]
