"""Repository context: what a git command would run besides git, in the directory it runs in.

A "read-only" ``git status`` runs the program named by the repository's ``core.fsmonitor``;
``git diff`` runs a ``diff.*.textconv`` driver; ``git commit`` runs the hooks. None of that is
in the command line, so :func:`tcplab.check.check` with ``cwd=`` (the hook passes the event's
``cwd``) finds the repository git would find from each directory the line can be in (the
start, every static ``cd``/``pushd``/``env -C``/``git -C`` target), reads its config files
(includes followed) and hooks, and adds a HIGH reason to each git command a program-running
key or an executable hook applies to. A directory or repository it cannot know or read gives
UNKNOWN (REQUIRE_APPROVAL). The user's own ``~/.gitconfig`` and ``/etc/gitconfig`` are trusted
(not read). ``docs/check.md``, "Repository context".
"""

from __future__ import annotations

import os

from tcplab.check._gitconfig import ALL, NOT_PURE, ConfigError, program_keys, read_config
from tcplab.descriptor import RiskLevel

__all__ = ["HOOK_SCOPES", "PURE_READ", "RepoContext", "repository_findings"]

Scope = str | frozenset[str]
Finding = tuple[Scope, str, str, RiskLevel]  # scope, rule, why, level
_H, _U = RiskLevel.HIGH_RISK, RiskLevel.UNKNOWN
_MAX_DIRS = 32
#: subcommands that write neither refs nor (beyond a refresh) the index: the hooks that run on
#: ref updates (``reference-transaction``) and the editor/merge drivers do not apply to them
PURE_READ = frozenset(
    {"", "status", "log", "diff", "show", "blame", "annotate", "rev-parse", "ls-files"}
    | {"describe", "shortlog", "grep", "help", "version", "cat-file", "ls-tree", "whatchanged"}
    | {"rev-list", "show-ref", "for-each-ref", "name-rev", "diff-tree", "diff-files"}
    | {"diff-index", "merge-base", "var", "count-objects", "check-ignore", "check-attr"}
    | {"check-ref-format", "range-diff", "show-branch", "cherry", "verify-commit", "verify-tag"}
)
_COMMITS = frozenset({"commit", "merge", "pull", "cherry-pick", "revert", "rebase"})
#: githooks(5) of git 2.39: the subcommands that run each hook in this repository
HOOK_SCOPES: dict[str, Scope] = {
    "applypatch-msg": frozenset({"am"}),
    "pre-applypatch": frozenset({"am"}),
    "post-applypatch": frozenset({"am"}),
    "pre-commit": frozenset({"commit"}),
    "pre-merge-commit": frozenset({"merge", "pull"}),
    "prepare-commit-msg": _COMMITS,
    "commit-msg": _COMMITS,
    "post-commit": frozenset({"commit", "cherry-pick", "revert", "rebase"}),
    "pre-rebase": frozenset({"rebase", "pull"}),
    "post-checkout": frozenset(
        {"checkout", "switch", "clone", "worktree", "submodule", "bisect", "rebase", "pull"}
    ),
    "post-merge": frozenset({"merge", "pull"}),
    "pre-push": frozenset({"push"}),
    "reference-transaction": NOT_PURE,
    "pre-auto-gc": _COMMITS | {"gc", "fetch", "am", "maintenance"},
    "post-rewrite": frozenset({"commit", "rebase"}),
    "sendemail-validate": frozenset({"send-email"}),
    "post-index-change": ALL,
    "p4-changelist": frozenset({"p4"}),
    "p4-prepare-changelist": frozenset({"p4"}),
    "p4-post-changelist": frozenset({"p4"}),
    "p4-pre-submit": frozenset({"p4"}),
    "pre-receive": frozenset({"receive-pack"}),
    "update": frozenset({"receive-pack"}),
    "proc-receive": frozenset({"receive-pack"}),
    "post-receive": frozenset({"receive-pack"}),
    "post-update": frozenset({"receive-pack"}),
    "push-to-checkout": frozenset({"receive-pack"}),
}
_GIT_WITH_ARG = frozenset({"-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env"})


def _is_git_dir(path: str) -> bool:
    if not os.path.isfile(os.path.join(path, "HEAD")):
        return False
    if os.path.isfile(os.path.join(path, "commondir")):
        return True
    return os.path.isdir(os.path.join(path, "objects")) and os.path.isdir(
        os.path.join(path, "refs")
    )


def _gitfile(path: str) -> str:
    """The directory a ``.git`` file (``gitdir: PATH``) points to."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as f:
            text = f.read(4096)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not text.startswith("gitdir:"):
        raise ConfigError(f"{path} is not a gitdir file")
    target = text[len("gitdir:") :].strip()
    return os.path.normpath(os.path.join(os.path.dirname(path), target))


def _layout(git_dir: str, work_tree: str | None) -> tuple[str, str, str | None]:
    """(git dir, common dir, work tree); a linked worktree's config and hooks live in the
    common dir named by its ``commondir`` file."""
    common = git_dir
    path = os.path.join(git_dir, "commondir")
    if os.path.isfile(path):
        try:
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                common = os.path.normpath(os.path.join(git_dir, f.read(4096).strip()))
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return git_dir, common, work_tree


def find_repository(start: str) -> tuple[str, str, str | None] | None:
    """The repository git finds from ``start`` (walking up; a directory that is itself a git
    directory is a bare repository), or None. Ceilings and file-system boundaries are not
    applied: a repository git would not reach can only add findings."""
    d = os.path.abspath(start)
    while True:
        dotgit = os.path.join(d, ".git")
        if os.path.isdir(dotgit) and _is_git_dir(dotgit):
            return _layout(dotgit, d)
        if os.path.isfile(dotgit):
            return _layout(_gitfile(dotgit), d)
        if _is_git_dir(d):
            return _layout(d, None)
        parent = os.path.dirname(d)
        if parent == d:
            return None
        d = parent


def _hooks(hooks_dir: str) -> list[Finding]:
    try:
        names = set(os.listdir(hooks_dir)) & HOOK_SCOPES.keys()
    except OSError:
        return []  # no hooks directory: git runs no hook
    found: list[Finding] = []
    for name in sorted(names):
        path = os.path.join(hooks_dir, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            found.append((HOOK_SCOPES[name], f"hook {name}", f"runs the hook {path}", _H))
    return found


def _findings(git_dir: str, common: str, work_tree: str | None) -> list[Finding]:
    files = [os.path.join(common, "config"), os.path.join(git_dir, "config.worktree")]
    entries = [e for path in files for e in read_config(path)]
    found: list[Finding] = [
        (scope, f"git config {key}", f"the repository config sets {why}", _H)
        for scope, key, why in program_keys(entries)
    ]
    hooks_dir = os.path.join(common, "hooks")
    for section, sub, name, value in entries:
        if (section, sub, name) == ("core", None, "hookspath") and value:
            hooks_dir = os.path.expanduser(value)
            if not os.path.isabs(hooks_dir):
                hooks_dir = os.path.join(work_tree or git_dir, hooks_dir)
    return found + _hooks(hooks_dir)


def repository_findings(start: str, git_dir: str | None = None) -> list[Finding]:
    """What git run in ``start`` (or with ``--git-dir``) would run: (scope, rule, why, level)."""
    try:
        layout = _layout(git_dir, start) if git_dir is not None else find_repository(start)
        if layout is None:
            return []
        return _findings(*layout)
    except (ConfigError, OSError) as exc:
        why = f"the repository's config or hooks cannot be read ({exc})"
        return [(ALL, "repository", why, _U)]


def _applies(scope: Scope, sub: str) -> bool:
    if scope == ALL:
        return True
    if scope == NOT_PURE:
        return sub not in PURE_READ
    return sub.lower() in scope


def _git_options(words: list[str | None]) -> tuple[list[str | None], list[str | None], str]:
    """``git``'s global options before the subcommand: the ``-C`` paths, the ``--git-dir``
    values (None: not static) and the subcommand ("" when none)."""
    chdirs: list[str | None] = []
    git_dirs: list[str | None] = []
    i = 1
    while i < len(words):
        w = words[i]
        if w is None:
            return chdirs, git_dirs, "?"
        if w in _GIT_WITH_ARG:
            value = words[i + 1] if i + 1 < len(words) else None
            if w == "-C" and value != "":
                chdirs.append(value)
            elif w == "--git-dir":
                git_dirs.append(value)
            i += 2
            continue
        if w.startswith("--git-dir="):
            git_dirs.append(w.split("=", 1)[1])
        elif not w.startswith("-"):
            return chdirs, git_dirs, w
        i += 1
    return chdirs, git_dirs, ""


class RepoContext:
    """The directories a line can be in (from ``cwd`` and its static directory changes) and
    the findings of the repositories there, read once per line."""

    __slots__ = ("_found", "dirs", "unknown")

    def __init__(self, cwd: str) -> None:
        self.dirs: list[str] = [os.path.abspath(os.path.expanduser(cwd))]
        self.unknown: str | None = None
        self._found: dict[tuple[str, str | None], list[Finding]] = {}

    def change_dir(self, target: str | None, how: str) -> None:
        """A ``cd``-like change to ``target`` (None: not static): the line may be there."""
        if target is None or target == "-" or target.startswith(("+", "-")):
            self.unknown = f"{how} to a directory that is not known before it runs"
            return
        target = os.path.expanduser(target)
        bases = [""] if os.path.isabs(target) else list(self.dirs)
        if not os.path.isabs(target) and how == "cd":
            bases += [p for p in os.environ.get("CDPATH", "").split(":") if p]
        for base in bases:
            path = os.path.normpath(os.path.join(base, target))
            if path not in self.dirs:
                self.dirs.append(path)
        if len(self.dirs) > _MAX_DIRS:
            self.unknown = f"more than {_MAX_DIRS} directories the line may be in"

    def cd(self, words: list[str | None]) -> None:
        """``cd [-L|-P|-e|-@] [DIR]`` / ``pushd [DIR]``."""
        args = list(words[1:])
        while args and args[0] in ("-L", "-P", "-e", "-@", "-LP", "-PL", "-n"):
            args.pop(0)
        if args and args[0] == "--":
            args.pop(0)
        target = args[0] if args else ("~" if words[0] == "cd" else "-")
        self.change_dir(target, "cd" if words[0] == "cd" else str(words[0]))

    def _findings(self, start: str, git_dir: str | None) -> list[Finding]:
        key = (start, git_dir)
        if key not in self._found:
            self._found[key] = repository_findings(start, git_dir)
        return self._found[key]

    def git_reasons(self, words: list[str | None]) -> list[tuple[str, RiskLevel, str]]:
        """(rule, level, why) for one ``git`` command: every finding that applies to its
        subcommand, in every directory it may run in."""
        chdirs, git_dirs, sub = _git_options(words)
        out: list[tuple[str, RiskLevel, str]] = []
        if self.unknown is not None or None in chdirs or None in git_dirs or sub == "?":
            why = self.unknown or "a git option or the subcommand is not static"
            out.append(("repository", _U, f"the repository is not known: {why}"))
        starts = list(self.dirs)
        for path in chdirs:
            if path is not None:
                path = os.path.expanduser(path)
                starts = [os.path.normpath(os.path.join(d, path)) for d in starts]
        seen: set[tuple[str, str]] = set()
        for start in starts:
            targets: list[str | None] = [os.path.join(start, g) for g in git_dirs if g is not None]
            if not targets:
                targets.append(None)
            for git_dir in targets:
                for scope, rule, why, level in self._findings(start, git_dir):
                    if _applies(scope, sub) and (rule, why) not in seen:
                        seen.add((rule, why))
                        out.append((rule, level, why))
        return out


def _chdir_option(words: list[str | None], short: str) -> list[str | None]:
    """The directories of ``env -C DIR``/``--chdir=DIR`` (``sudo -D``), anywhere in the words."""
    out: list[str | None] = []
    for i, w in enumerate(words[1:], 1):
        if w is None:
            continue
        if w in (short, "--chdir"):
            out.append(words[i + 1] if i + 1 < len(words) else None)
        elif w.startswith("--chdir="):
            out.append(w.split("=", 1)[1])
        elif w.startswith(short) and len(w) > 2:
            out.append(w[2:])
    return out


def segment_reasons(
    repo: RepoContext, name: str, words: list[str | None]
) -> list[tuple[str, RiskLevel, str]]:
    """The engine's entry, for each simple command when a line has a directory: records
    directory changes (``cd``, ``pushd``, ``env -C``, ``sudo -D``) and returns the reasons of
    a ``git`` command."""
    if name == "git":
        return repo.git_reasons(words)
    if name in ("cd", "pushd"):
        repo.cd(words)
    elif name in ("env", "sudo"):
        for target in _chdir_option(words, "-C" if name == "env" else "-D"):
            repo.change_dir(target, f"{name} --chdir")
    return []
