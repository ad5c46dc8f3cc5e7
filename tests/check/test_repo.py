"""Repository context (``check(line, cwd=…)``): real repositories made and run by real git.

Each threat is first shown with git itself (the program named in the config or the hook runs
and leaves a marker file), then the check must not approve the line in that directory, and
must still approve it in a plain repository.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tcplab.check import check, hook_answer, serve_answer
from tcplab.check._gitdir import gitlinks

GIT = shutil.which("git")
if GIT is None and os.environ.get("CI") == "true":
    raise RuntimeError("git is needed by tests/check/test_repo.py (it is in the base image)")
pytestmark = pytest.mark.skipif(GIT is None, reason="git is not installed")


def _git(repo: Path, *args: str, check_rc: bool = True) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(repo.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=False
    )
    if check_rc:
        assert proc.returncode == 0, proc.stderr
    return proc


def _repo(tmp_path: Path, name: str = "repo") -> Path:
    repo = tmp_path / name
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "a.txt").write_text("a\n")
    _git(repo, "add", "a.txt")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def _script(path: Path, marker: Path) -> Path:
    path.write_text(f"#!/bin/sh\necho ran >> {marker}\nexit 0\n")
    path.chmod(0o755)
    return path


def _decision(line: str, cwd: Path) -> tuple[str, list[str]]:
    result = check(line, cwd=cwd)
    return result.decision, [r.rule for r in result.reasons if r.source == "repository"]


def test_fsmonitor_runs_on_git_status_and_is_not_approved(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    assert _decision("git status", repo) == ("APPROVE", [])
    marker = tmp_path / "ran"
    _script(repo / "fsm.sh", marker)
    _git(repo, "config", "core.fsmonitor", "./fsm.sh")
    _git(repo, "status")
    assert marker.exists()  # git ran the program: the threat is real
    for line in ("git status", "git diff", "git log -1", "cd . && git status"):
        decision, rules = _decision(line, repo)
        assert decision == "REQUIRE_APPROVAL" and rules == ["git config core.fsmonitor"], line
    assert check("git status").decision == "APPROVE"  # no directory given: the line alone
    (repo / "sub").mkdir()
    assert check("git status", cwd=repo / "sub").risk_level == "HIGH_RISK"  # found upwards
    _git(repo, "config", "core.fsmonitor", "false")
    assert _decision("git status", repo) == ("APPROVE", [])


def test_hooks_by_the_subcommands_that_run_them(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    marker = tmp_path / "ran"
    hooks = repo / ".git" / "hooks"
    _script(hooks / "pre-commit", marker)
    (hooks / "post-merge").write_text("#!/bin/sh\n")  # not executable: git ignores it
    _git(repo, "commit", "-q", "--allow-empty", "-m", "x")
    assert marker.read_text() == "ran\n"  # git ran the hook
    assert _decision("git commit -m y", repo) == ("REQUIRE_APPROVAL", ["hook pre-commit"])
    assert _decision("git status", repo) == ("APPROVE", [])
    assert _decision("git merge main", repo)[1] == []
    _script(hooks / "post-index-change", marker)
    assert _decision("git status", repo) == ("REQUIRE_APPROVAL", ["hook post-index-change"])
    assert "hook post-index-change" in _decision("git commit -m y", repo)[1]


def test_hooks_path_relative_to_the_work_tree(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    marker = tmp_path / "ran"
    (repo / ".husky" / "_").mkdir(parents=True)
    _script(repo / ".husky" / "_" / "pre-push", marker)
    _git(repo, "config", "core.hooksPath", ".husky/_")
    assert _decision("git push origin main", repo)[1] == ["hook pre-push"]
    assert _decision("git status", repo) == ("APPROVE", [])
    sub = repo / "src"
    sub.mkdir()
    assert _decision("git push", sub)[1] == ["hook pre-push"]  # found from a subdirectory


@pytest.mark.parametrize(
    ("key", "value", "line", "other"),
    [
        ("diff.x.textconv", "./conv.sh", "git diff", None),
        ("filter.x.clean", "./f.sh", "git status", None),
        ("core.pager", "./p.sh", "git log", None),
        ("pager.log", "./p.sh", "git log", "git status"),
        ("core.sshCommand", "./ssh.sh", "git fetch origin", "git status"),
        ("remote.origin.uploadpack", "./up.sh", "git ls-remote origin", "git log"),
        ("credential.helper", "!./cred.sh", "git push", "git diff"),
        ("alias.st", "!sh -c 'rm -rf ~'", "git st", "git status"),
        ("core.editor", "./ed.sh", "git commit", "git status"),
        ("gpg.program", "./gpg.sh", "git show", None),
    ],
)
def test_config_keys_that_run_programs(
    tmp_path: Path, key: str, value: str, line: str, other: str | None
) -> None:
    repo = _repo(tmp_path)
    _git(repo, "config", key, value)
    decision, rules = _decision(line, repo)
    assert decision in ("REQUIRE_APPROVAL", "REJECT") and rules == [f"git config {key.lower()}"]
    if other is not None:
        assert _decision(other, repo)[1] == []


def test_textconv_really_runs_on_git_diff(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    marker = tmp_path / "ran"
    conv = _script(repo / "conv.sh", marker)
    conv.write_text(f'#!/bin/sh\necho ran >> {marker}\ncat "$1"\n')
    (repo / ".gitattributes").write_text("*.txt diff=x\n")
    _git(repo, "config", "diff.x.textconv", "./conv.sh")
    (repo / "a.txt").write_text("b\n")
    _git(repo, "diff")
    assert marker.exists()
    assert _decision("git diff", repo) == ("REQUIRE_APPROVAL", ["git config diff.x.textconv"])


def test_harmless_values_keep_the_approval(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    for key, value in [
        ("core.pager", "less -R"),
        ("pager.log", "false"),
        ("filter.lfs.clean", "git-lfs clean -- %f"),
        ("filter.lfs.process", "git-lfs filter-process"),
        ("credential.helper", "store"),
        ("alias.s", "status"),
        ("user.name", "x"),
    ]:
        _git(repo, "config", key, value)
    for line in ("git status", "git log", "git diff"):
        assert _decision(line, repo) == ("APPROVE", []), line


def test_includes_are_followed(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    (tmp_path / "extra.cfg").write_text('[diff "x"]\n\ttextconv = ./conv.sh\n')
    _git(repo, "config", "include.path", "../../extra.cfg")  # relative to .git/config
    _git(repo, "config", "--add", "include.path", "missing.cfg")  # ignored, as by git
    assert _git(repo, "config", "diff.x.textconv").stdout.strip() == "./conv.sh"
    assert _decision("git diff", repo)[1] == ["git config diff.x.textconv"]


def test_directory_changes_in_the_line(tmp_path: Path) -> None:
    clean, evil = _repo(tmp_path, "clean"), _repo(tmp_path, "evil")
    _git(evil, "config", "core.fsmonitor", "./fsm.sh")
    assert _decision("git status", clean) == ("APPROVE", [])
    for line in (
        "cd ../evil && git status",
        f"cd {evil} && git status",
        "git -C ../evil status",
        "pushd ../evil; git status",
        "env -C ../evil git status",
        "(cd ../evil; true) ; git status",  # a subshell's cd: both directories are checked
        "bash -c 'cd ../evil && git log'",
    ):
        assert _decision(line, clean)[1] == ["git config core.fsmonitor"], line
    for line in ('cd "$D" && git status', "cd - && git status", "git -C $D status"):
        result = check(line, cwd=clean)
        assert result.decision == "REQUIRE_APPROVAL", line
        assert any(r.rule == "repository" and r.risk_level == "UNKNOWN" for r in result.reasons)
    # git may run again after a later cd (a loop, an EXIT trap): every cd of the line counts
    assert _decision("git status; cd ../evil", clean)[1] == ["git config core.fsmonitor"]


def test_worktrees_and_bare_repositories(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "worktree", "add", "-q", str(tmp_path / "wt"))
    _git(repo, "config", "core.fsmonitor", "./fsm.sh")
    assert (tmp_path / "wt" / ".git").is_file()
    assert _decision("git status", tmp_path / "wt")[1] == ["git config core.fsmonitor"]
    bare = repo / "vendor" / "x.git"  # a bare repository inside a work tree
    bare.parent.mkdir()
    _git(repo, "init", "-q", "--bare", str(bare))
    (bare / "hooks").mkdir(exist_ok=True)
    _script(bare / "hooks" / "post-index-change", tmp_path / "ran")
    assert _decision("git log", bare)[1] == ["hook post-index-change"]  # its own, not repo's


def test_unreadable_repository_needs_approval(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    config = repo / ".git" / "config"
    config.write_text(config.read_text() + "[core\n\tfsmonitor = x\n")
    assert _git(repo, "status", check_rc=False).returncode != 0  # git refuses it too
    result = check("git status", cwd=repo)
    assert result.decision == "REQUIRE_APPROVAL" and result.risk_level == "UNKNOWN"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / ".git").write_text("not a gitdir file\n")
    assert check("git status", cwd=broken).decision == "REQUIRE_APPROVAL"
    assert check("ls", cwd=broken).decision == "APPROVE"  # only git reads the repository


def test_hook_and_serve_use_the_directory(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "config", "core.fsmonitor", "./fsm.sh")
    event = {
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "git status"},
        "cwd": str(repo),
    }
    out = hook_answer(json.dumps(event))["hookSpecificOutput"]
    assert out["permissionDecision"] == "ask"
    assert "core.fsmonitor" in out["permissionDecisionReason"]
    event["cwd"] = str(tmp_path)
    assert hook_answer(json.dumps(event))["hookSpecificOutput"]["permissionDecision"] == "allow"
    served = serve_answer(json.dumps({"command": "git status", "cwd": str(repo), "id": 1}))
    assert served["decision"] == "REQUIRE_APPROVAL" and served["id"] == 1
    assert serve_answer(json.dumps({"command": "git status"}))["decision"] == "APPROVE"
    bad = serve_answer(json.dumps({"command": "git status", "cwd": 3}))
    assert bad["decision"] == "REQUIRE_APPROVAL" and "cwd" in bad["error"]


# --- The red team's 40 approved lines (2026-12-02, docs/check.md "Repository context"): each
# setup makes git run the program for real; the check must not approve the line.


def _evil(repo: Path, marker: Path) -> None:
    _script(repo / "fsm.sh", marker)
    _git(repo, "config", "core.fsmonitor", str(repo / "fsm.sh"))


def _runs(line: str, cwd: Path, marker: Path) -> bool:
    marker.unlink(missing_ok=True)
    env = {"PATH": os.environ["PATH"], "HOME": str(cwd), "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True, check=False)
    return marker.exists()


def _not_approved(line: str, cwd: Path, marker: Path) -> None:
    assert _runs(line, cwd, marker), f"git did not run the program: {line}"
    assert check(line, cwd=cwd).decision != "APPROVE", line


def test_red_team_symlinks_and_physical_paths(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = _repo(tmp_path, "evil")
    _evil(evil, marker)
    (evil / "sub").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    (work / "lib").symlink_to(evil / "sub")  # git walks up the physical path
    (work / "s").symlink_to(evil / "sub")
    (tmp_path / "deep").mkdir()
    (work / "t").symlink_to(tmp_path / "deep")
    for line in ("cd lib && git status", "git -C lib status", "git -C s/.. status"):
        _not_approved(line, work, marker)
    _not_approved("cd -P s/.. && git status", work, marker)
    (tmp_path / "deep" / "evil2").symlink_to(evil)
    _not_approved("cd t/evil2 && git status", work, marker)


def test_red_team_repositories_git_accepts(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = _repo(tmp_path, "evil")
    _evil(evil, marker)
    head = evil / ".git" / "HEAD"
    head.unlink()
    head.symlink_to("refs/heads/gone")  # dangling: git still takes the directory
    _not_approved("git status", evil, marker)
    decoy = evil / "pkg" / ".git"  # a .git git rejects: it walks on to the evil parent
    (decoy / "objects").mkdir(parents=True)
    (decoy / "refs").mkdir()
    (decoy / "HEAD").write_text("not a ref\n")
    _not_approved("git status", evil / "pkg", marker)
    store = tmp_path / "store "  # a .git file: only CR/LF are stripped from the path
    shutil.move(str(_repo(tmp_path, "other") / ".git"), store)
    other = tmp_path / "other"
    (other / ".git").write_text("gitdir: ../store \n")
    _evil(other, marker)
    _not_approved("git status", other, marker)


def test_red_team_submodule_and_work_trees(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    sup = _repo(tmp_path, "sup")
    lib = _repo(sup, "lib")
    _evil(lib, marker)
    _git(sup, "add", "lib")  # a gitlink: git status runs git in lib
    marker.unlink(missing_ok=True)
    for line in ("git status", "git diff", "git describe --dirty --always"):
        _not_approved(line, sup, marker)
    rules = [r.rule for r in check("git status", cwd=sup).reasons]
    assert "submodule lib: git config core.fsmonitor" in rules
    _git(sup, "update-index", "--index-version", "4")  # path prefixes compressed
    assert gitlinks(str(sup / ".git")) == ["lib"]
    assert check("git status", cwd=sup).decision != "APPROVE"
    repo, wt = _repo(tmp_path, "r"), tmp_path / "wt"
    (wt / "h").mkdir(parents=True)
    _script(wt / "h" / "pre-commit", marker)
    _git(repo, "config", "core.hooksPath", "h")  # relative to the work tree given
    line = "git --work-tree=../wt commit -q --allow-empty -m x"
    _not_approved(line, repo, marker)
    assert "hook pre-commit" in [r.rule for r in check(line, cwd=repo).reasons]


def test_red_team_directory_changes(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    evil = _repo(tmp_path, "evil")
    _evil(evil, marker)
    work = tmp_path / "work"
    work.mkdir()
    for line in (
        "shopt -s cdable_vars; d=../evil; cd d && git status",
        "CDPATH=.. cd evil && git status",
        f"export CDPATH={tmp_path}; cd evil && git status",
        "HOME=../evil; cd && git status",
        "cd ~+/../evil && git status",
        "git -C ~+/../evil status",
        "cd ../evi? && git status",
        "pushd . >/dev/null; DIRSTACK[1]=../evil; popd >/dev/null; git status",
        "find .. -name a.txt -execdir git status \\;",
    ):
        _not_approved(line, work, marker)


def test_red_team_helpers_aliases_and_go(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = _repo(tmp_path)
    _script(repo / "helper.sh", marker)
    _git(repo, "remote", "add", "origin", "evil::x")
    _git(repo, "config", "alias.remote-evil", f"!{repo / 'helper.sh'}")
    _not_approved("git remote show origin", repo, marker)
    _git(repo, "config", "alias.st", "-c core.fsmonitor=./helper.sh status")
    _not_approved("git st", repo, marker)
    _evil(repo, marker)
    assert check("go list ./...", cwd=repo).decision != "APPROVE"  # go runs git status
    assert check("go list ./...").decision == "APPROVE"
    (repo / "x.txt").write_text("x\n")
    bare = _repo(tmp_path, "b")
    _git(bare, "config", "diff.x.textconv", "./conv.sh")
    inner = bare / ".git"
    assert check("git --bare log -p -1", cwd=inner).decision != "APPROVE"


def test_sha256_superproject(tmp_path: Path) -> None:
    sup = tmp_path / "sup"
    sup.mkdir()
    _git(sup, "init", "-q", "--object-format=sha256")
    lib = sup / "lib"
    lib.mkdir()
    _git(lib, "init", "-q", "--object-format=sha256")
    (lib / "b").write_text("b\n")
    _git(lib, "add", "b")
    _git(lib, "commit", "-q", "-m", "b")
    _git(lib, "config", "core.fsmonitor", "./x.sh")
    _git(sup, "add", "lib")
    assert gitlinks(str(sup / ".git"), 32) == ["lib"]
    assert check("git status", cwd=sup).decision != "APPROVE"


# --- The second red team's 36 approved lines (2026-12-02): kept as tests.


def test_red_team_2_config_and_discovery(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    repo = _repo(tmp_path, "r")
    _script(repo / "fsm.sh", marker)
    config = repo / ".git" / "config"
    with config.open("a", newline="") as f:  # a lone CR stays inside git's comment
        f.write(f"[core]\n# note\r[foo]\n\tfsmonitor = {repo / 'fsm.sh'}\n")
    _not_approved("git status", repo, marker)
    other = _repo(tmp_path, "o")
    _git(other, "config", "include.path", "/proc/self/cwd/evil.inc")  # git's cwd, not ours
    assert check("git status", cwd=other).decision != "APPROVE"
    _git(other, "config", "--unset", "include.path")
    _git(other, "update-index", "--split-index")
    lib = _repo(other, "lib")
    _git(lib, "config", "core.fsmonitor", "./x.sh")
    _git(other, "add", "lib")
    _git(other, "update-index", "--split-index")
    assert check("git status", cwd=other).decision != "APPROVE"
    _git(other, "worktree", "add", "-q", str(tmp_path / "wt"))
    _git(other, "config", "core.fsmonitor", "./y.sh")
    admin = f"--git-dir={other / '.git' / 'worktrees' / 'wt'}"
    assert check(f"git {admin} status", cwd=tmp_path).decision != "APPROVE"


def test_red_team_2_directory_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    p = tmp_path / "p"
    p.mkdir()
    assert check("make -n", cwd=p).decision == "APPROVE"
    (p / "Makefile").write_text(f"X := $(shell touch {marker})\nall:\n\techo hi\n")
    _not_approved("make -n", p, marker)
    (p / "json.py").write_text(f"open({str(marker)!r}, 'w')\ndumps = str\n")
    _not_approved("python3 -c 'import json; print(json.dumps(1))'", p, marker)
    (p / "git").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (p / "git").chmod(0o755)
    _not_approved("./git status", p, marker)
    assert check("./git status").decision == "APPROVE"  # without a directory: the line alone
