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
import re

from tcplab.check._gitconfig import (
    ALL,
    NOT_PURE,
    SPECIAL,
    ConfigError,
    Entry,
    program_keys,
    read_config,
)
from tcplab.check._gitdir import Layout, find_repositories, git_dir_layout, gitlinks
from tcplab.descriptor import RiskLevel

__all__ = ["HOOK_SCOPES", "PURE_READ", "RepoContext", "repository_findings"]

Scope = str | frozenset[str]
Finding = tuple[Scope, str, str, RiskLevel]  # scope, rule, why, level
Reason = tuple[str, RiskLevel, str]  # rule, level, why
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
_MAX_SUBMODULE_DEPTH = 3
_MAX_SUBMODULES = 64
#: programs that run git in their directory themselves (the findings of `git status` apply);
#: a tuple: only these subcommands
_RUNS_GIT: dict[str, tuple[str, ...] | None] = {
    "go": ("list", "build", "install", "run", "test", "vet", "generate", "version"),
    "pre-commit": None,
    "tig": None,
    "lazygit": None,
    "gitk": None,
    "git-gui": None,
    "gh": None,
    "hub": None,
}


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


def _hook_dirs(layout: Layout, entries: list[Entry], work_trees: list[str]) -> list[str]:
    """Where git looks for hooks: ``core.hooksPath`` (a relative one from every work tree the
    command may have: found, ``core.worktree``, ``--work-tree``; or the git dir) or
    ``hooks`` in the common dir."""
    git_dir, common, work_tree = layout
    paths = [v for s, sub, n, v in entries if (s, sub, n) == ("core", None, "hookspath") and v]
    if not paths:
        return [os.path.join(common, "hooks")]
    bases = [git_dir, *work_trees] + ([work_tree] if work_tree else [])
    for s, sub, n, v in entries:
        if (s, sub, n) == ("core", None, "worktree") and v:
            bases.append(os.path.join(git_dir, os.path.expanduser(v)))
    out: list[str] = []
    for value in paths:
        value = os.path.expanduser(value)
        if value.startswith(SPECIAL):
            raise ConfigError(f"core.hooksPath {value} reads differently in git's process")
        for base in [""] if os.path.isabs(value) else bases:
            path = os.path.join(base, value)
            for form in (os.path.normpath(path), os.path.realpath(path)):
                if form not in out:
                    out.append(form)
    return out


def _findings(layout: Layout, work_trees: list[str], depth: int) -> list[Finding]:
    git_dir, common, _ = layout
    files = [os.path.join(common, "config"), os.path.join(git_dir, "config.worktree")]
    entries = [e for path in files for e in read_config(path)]
    found: list[Finding] = [
        (scope, f"git config {key}", f"the repository config sets {why}", _H)
        for scope, key, why in program_keys(entries)
    ]
    for hooks_dir in _hook_dirs(layout, entries, work_trees):
        found += _hooks(hooks_dir)
    return found + _submodules(layout, entries, work_trees, depth)


def _submodules(
    layout: Layout, entries: list[Entry], work_trees: list[str], depth: int
) -> list[Finding]:
    """The findings of the repositories of the index's gitlinks, in every work tree."""
    git_dir, _, work_tree = layout
    trees = [*work_trees] + ([work_tree] if work_tree else [])
    trees += [
        os.path.join(git_dir, v)
        for s, sub, n, v in entries
        if v and (s, sub, n) == ("core", None, "worktree")
    ]
    sha256 = any(
        e[:3] == ("extensions", None, "objectformat") and e[3] == "sha256" for e in entries
    )
    links = gitlinks(git_dir, 32 if sha256 else 20) if trees else []
    if len(links) > _MAX_SUBMODULES or (links and depth >= _MAX_SUBMODULE_DEPTH):
        why = f"submodules more than {_MAX_SUBMODULES} or {_MAX_SUBMODULE_DEPTH} deep: not read"
        return [(ALL, "repository", why, _U)]
    found: list[Finding] = []
    for tree in dict.fromkeys(trees):
        for path in links:
            for sub_layout in find_repositories(os.path.join(tree, path)):
                if os.path.realpath(sub_layout[0]) != os.path.realpath(git_dir):
                    for scope, rule, why, level in _findings(sub_layout, [], depth + 1):
                        found.append((scope, f"submodule {path}: {rule}", why, level))
    return found


def repository_findings(
    start: str, git_dir: str | None = None, work_trees: tuple[str, ...] = (), every: bool = False
) -> list[Finding]:
    """What git run in ``start`` (or with ``--git-dir``/``--bare``) would run: (scope, rule,
    why, level) of every repository it may use there, its submodules included."""
    try:
        if git_dir is not None:
            real = os.path.realpath(git_dir)
            known = git_dir_layout(real)  # a linked worktree's admin dir names its common dir
            layouts: list[Layout] = [(real, known[1] if known else real, start)]
        else:
            layouts = find_repositories(start, every)
        found: list[Finding] = []
        for layout in layouts:
            found += _findings(layout, list(work_trees), 0)
        return found
    except (ConfigError, OSError, RecursionError, ValueError) as exc:
        why = f"the repository's config, hooks or index cannot be read ({exc})"
        return [(ALL, "repository", why, _U)]


def _applies(scope: Scope, sub: str) -> bool:
    if scope == ALL:
        return True
    if scope == NOT_PURE:
        return sub not in PURE_READ
    return sub.lower() in scope


class _GitCall:
    """``git``'s global options before the subcommand (``None`` values are not static)."""

    __slots__ = ("bare", "chdirs", "git_dirs", "sub", "work_trees")

    def __init__(self, words: list[str | None]) -> None:
        self.chdirs: list[str | None] = []
        self.git_dirs: list[str | None] = []
        self.work_trees: list[str | None] = []
        self.bare, self.sub = False, ""
        i = 1
        while i < len(words):
            w = words[i]
            if w is None:
                self.sub = "?"
                return
            if w in _GIT_WITH_ARG:
                value = words[i + 1] if i + 1 < len(words) else None
                into = {"-C": self.chdirs, "--git-dir": self.git_dirs}.get(w)
                into = self.work_trees if w == "--work-tree" else into
                if into is not None and value != "":
                    into.append(value)
                i += 2
                continue
            key, _, value = w.partition("=")
            if key in ("--git-dir", "--work-tree") and _:
                (self.git_dirs if key == "--git-dir" else self.work_trees).append(value)
            elif w == "--bare":
                self.bare = True
            elif not w.startswith("-"):
                self.sub = w
                return
            i += 1

    def unknown(self) -> bool:
        return self.sub == "?" or None in self.chdirs + self.git_dirs + self.work_trees


def _forms(base: str, target: str) -> list[str]:
    """Where ``cd``/``-C`` to ``target`` from ``base`` may land: the logical path (bash's
    ``cd``), the physical one (``cd -P``, ``git -C``, bash's fallback) and the logical one's
    physical path (what git's ``getcwd`` sees)."""
    joined = os.path.join(base, target)
    out = [os.path.normpath(joined)]
    for form in (os.path.realpath(joined), os.path.realpath(out[0])):
        if form not in out:
            out.append(form)
    return out


class RepoContext:
    """The directories a line can be in (from ``cwd`` and its static directory changes) and
    the findings of the repositories there, read once per line."""

    __slots__ = ("_found", "_line", "_pushed", "dirs", "unknown")

    def __init__(self, cwd: str, line: str = "") -> None:
        start = os.path.abspath(os.path.expanduser(cwd))
        self.dirs: list[str] = [start] + (
            [] if os.path.realpath(start) == start else [os.path.realpath(start)]
        )
        self.unknown: str | None = None
        self._line, self._pushed = line, False
        self._found: dict[tuple[str, str | None, tuple[str, ...], bool], list[Finding]] = {}

    def _home(self, path: str) -> str | None:
        """``~/x``, ``~user/x`` expanded; None for ``~+``/``~-``/``~N`` (the directory stack)
        or when the line sets HOME."""
        expanded = os.path.expanduser(path)
        return None if "HOME" in self._line or expanded.startswith("~") else expanded

    def _lost(self, why: str) -> None:
        self.unknown = self.unknown or why

    def change_dir(self, target: str | None, how: str) -> None:
        """A ``cd``-like change to ``target`` (None: not static): the line may be there."""
        bare_name = target is not None and not target.startswith(("/", ".", "~"))
        if target is None or target == "-" or target.startswith(("+", "-")):
            return self._lost(f"{how} to a directory that is not known before it runs")
        if any(c in target for c in "*?["):
            return self._lost(f"{how} to a pattern ({target})")
        if target.startswith("~"):
            expanded = self._home(target)
            if expanded is None:
                return self._lost(f"{how} to {target} (the home or stack directory may differ)")
            target = expanded
        if how == "cd" and "cdable_vars" in self._line and not os.path.isabs(target):
            return self._lost("cd with cdable_vars (a word may name a variable)")
        bases = [""] if os.path.isabs(target) else list(self.dirs)
        if how == "cd" and bare_name:
            if "CDPATH" in self._line:
                return self._lost("cd with CDPATH set in the line")
            bases += [p for p in os.environ.get("CDPATH", "").split(":") if p]
        for base in bases:
            for path in _forms(base, target):
                if path not in self.dirs:
                    self.dirs.append(path)
        if len(self.dirs) > _MAX_DIRS:
            self._lost(f"more than {_MAX_DIRS} directories the line may be in")
        return None

    def cd(self, words: list[str | None]) -> None:
        """``cd [-L|-P|-e|-@] [DIR]``, ``pushd [-n] [DIR|+N|-N]``, ``popd``."""
        name, args = words[0], list(words[1:])
        if name == "popd":
            if not self._pushed or "DIRSTACK" in self._line:
                self._lost("popd to a directory pushed before the line")
            return
        while args and args[0] is not None and args[0][:1] == "-" and args[0][1:].isalpha():
            flag = args.pop(0) or ""
            if name == "pushd" and "n" in flag:
                return  # pushd -n: the directory does not change
        if args and args[0] == "--":
            args.pop(0)
        if name == "pushd":
            self._pushed = True
            if not args:
                return self._lost("pushd without a directory (swaps with one pushed before)")
        self.change_dir(args[0] if args else "~", "cd" if name == "cd" else str(name))
        return None

    def _findings(
        self, start: str, git_dir: str | None, trees: tuple[str, ...], every: bool
    ) -> list[Finding]:
        key = (start, git_dir, trees, every)
        if key not in self._found:
            self._found[key] = repository_findings(start, git_dir, trees, every)
        return self._found[key]

    def git_reasons(self, words: list[str | None], sub: str | None = None) -> list[Reason]:
        """(rule, level, why) for one ``git`` command (or, with ``sub``, a program that runs
        ``git SUB`` itself): every finding that applies, in every directory it may run in."""
        every = sub is not None  # another program: it may not stop where git stops
        call = _GitCall(words) if sub is None else _GitCall([])
        sub = call.sub if sub is None else sub
        out: list[Reason] = []
        if self.unknown is not None or call.unknown():
            why = self.unknown or "a git option or the subcommand is not static"
            out.append(("repository", _U, f"the repository is not known: {why}"))
        if any(w and w.startswith("--submodule") for w in words):
            why = "--submodule runs git in the submodules that commits name (not read)"
            out.append(("repository", _U, why))
        starts = list(self.dirs)
        for path in call.chdirs:
            if path is not None and path.startswith("~"):
                path = self._home(path)
                if path is None:
                    out.append(("repository", _U, "the repository is not known: git -C ~…"))
            if path is not None:
                starts = [form for d in starts for form in _forms(d, path)]
        trees = tuple(os.path.join(starts[0], t) for t in call.work_trees if t is not None)
        seen: set[tuple[str, str]] = set()
        for start in dict.fromkeys(starts):
            targets: list[str | None] = [os.path.join(start, g) for g in call.git_dirs if g]
            if call.bare:
                targets.append(start)
            for git_dir in targets or [None]:
                for scope, rule, why, level in self._findings(start, git_dir, trees, every):
                    if _applies(scope, sub) and (rule, why) not in seen:
                        seen.add((rule, why))
                        out.append((rule, level, why))
        return out


#: tools that run code named by files of their directory (or a parent, when True), even in
#: a form the knowledge approves: `make -n` runs `$(shell …)`, a toolchain file names rustc
_DIR_CODE: dict[str, tuple[tuple[str, ...], bool]] = {
    "make": (("GNUmakefile", "makefile", "Makefile"), False),
    "cargo": (
        (".cargo/config.toml", ".cargo/config", "rust-toolchain", "rust-toolchain.toml"),
        True,
    ),
    "rustc": (("rust-toolchain", "rust-toolchain.toml"), True),
    "rustup": (("rust-toolchain", "rust-toolchain.toml"), True),
    "mvn": ((".mvn",), True),
}


def _dir_code(repo: RepoContext, name: str, words: list[str | None]) -> list[Reason]:
    files, upward = _DIR_CODE[name]
    if name == "make" and any(
        w in ("-C", "-f", "--file", "--directory", "--makefile") for w in words
    ):
        return [("directory", _U, "make reads another directory's or file's makefile")]
    for start in repo.dirs:
        d = os.path.realpath(start)
        while True:
            for f in files:
                if os.path.lexists(os.path.join(d, f)):
                    why = f"{os.path.join(d, f)} can make {name} run code it names"
                    return [("directory", _H, why)]
            parent = os.path.dirname(d)
            if not upward or parent == d:
                break
            d = parent
    return []


_IMPORTED = re.compile(r"\b(?:import|from)\s+([A-Za-z_]\w*)")


def _shadowed(repo: RepoContext, name: str, words: list[str | None]) -> list[Reason]:
    """``python -c CODE`` / ``-m MOD`` import from the directory first: a ``json.py`` there
    runs instead of the standard library's."""
    mods: list[str] = []
    for i, w in enumerate(words[1:-1], 1):
        nxt = words[i + 1]
        if w == "-c" and nxt is not None:
            mods += _IMPORTED.findall(nxt)
        elif w == "-m" and nxt is not None:
            mods.append(nxt.split(".", 1)[0])
    for start in repo.dirs:
        for mod in dict.fromkeys(mods):
            for form in (f"{mod}.py", mod, f"{mod}.pth"):
                path = os.path.join(start, form)
                if os.path.lexists(path):
                    return [
                        ("directory", _H, f"{path} shadows the module {mod} ({name} imports it)")
                    ]
    return []


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


def segment_reasons(repo: RepoContext, name: str, words: list[str | None]) -> list[Reason]:
    """The engine's entry, for each simple command when a line has a directory: records
    directory changes (``cd``, ``pushd``, ``popd``, ``env -C``, ``sudo -D``, ``find
    -execdir``) and returns the reasons of a ``git`` command or of a program that runs git."""
    if name == "git":
        return repo.git_reasons(words)
    if name in ("cd", "pushd", "popd"):
        repo.cd(words)
    elif name in ("env", "sudo"):
        for target in _chdir_option(words, "-C" if name == "env" else "-D"):
            repo.change_dir(target, f"{name} --chdir")
    elif name == "find" and ("-execdir" in words or "-okdir" in words):
        repo.unknown = repo.unknown or "find -execdir runs commands in the directories it finds"
    elif name.startswith("python") and ("-c" in words or "-m" in words):
        return _shadowed(repo, name, words)
    elif name in _DIR_CODE:
        return _dir_code(repo, name, words)
    elif name in _RUNS_GIT or name.startswith("git-"):
        subs = _RUNS_GIT.get(name)
        if subs is None or (len(words) > 1 and words[1] in subs):
            return [
                (rule, level, f"{name} runs git here: {why}")
                for rule, level, why in repo.git_reasons(words, "status")
            ]
    return []
