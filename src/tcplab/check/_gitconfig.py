"""A repository's git configuration, read the way git reads it, and the keys that run programs.

Only what the check needs: :func:`read_config` parses a config file (sections, quoted
subsections, ``[a.b]``, values with quotes, escapes, comments and line continuations, a key
with no value) and follows ``include.path`` / ``includeIf.*.path`` (every condition is taken
as true: an include can only add findings). :func:`program_keys` names the entries that make
git run a program, with the git subcommands that can run it (``docs/check.md``, "Repository
context").
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = [
    "ALL",
    "NETWORK",
    "NOT_PURE",
    "SPECIAL",
    "ConfigError",
    "Entry",
    "program_keys",
    "read_config",
]

Entry = tuple[str, str | None, str, str | None]  # section, subsection, name, value (None: bare)
#: scopes: every subcommand / every one that may write (not in PURE_READ) / the network ones
ALL, NOT_PURE = "all", "not-read-only"
NETWORK = frozenset(
    {"fetch", "pull", "push", "clone", "ls-remote", "remote", "submodule", "archive"}
    | {"fetch-pack", "send-pack", "request-pull", "maintenance", "gc"}
)
_MAX_INCLUDES = 10
#: paths that read differently in git's process (its cwd, its stdin): never opened here
SPECIAL = ("/proc/", "/dev/")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0", ""})
_PAGER_OK = re.compile(r"^(cat|less( -[A-Za-z]+)*|more)$")
_LFS_FILTER = re.compile(r"^git-lfs (clean|smudge) -- %f$|^git-lfs filter-process$")
_SECTION = re.compile(r'\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\\n]|\\.)*)")?\s*\]')
_KEY = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_PARSED: dict[str, tuple[Any, list[Entry]]] = {}
_CACHE_MAX = 256
_MAX_FILE = 256 << 20
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "b": "\b"}


class ConfigError(ValueError):
    """A config file git would refuse (or one that could not be read)."""


def _value(text: str, i: int, where: str) -> tuple[str, int]:
    """The value starting at ``text[i]`` (after ``=``) and the index after its line."""
    out: list[str] = []
    quoted, pending = False, ""  # pending: unquoted whitespace kept only if more follows
    while i < len(text):
        c = text[i]
        if c == "\n" and not quoted:
            break
        if c == "\n":
            raise ConfigError(f"{where}: a quoted value runs past the end of the line")
        if c == "\\":
            nxt = text[i + 1 : i + 2]
            if nxt == "\n":
                i += 2
                continue
            if nxt not in _ESCAPES:
                raise ConfigError(f"{where}: bad escape \\{nxt!s}")
            out.append(pending + _ESCAPES[nxt])
            pending, i = "", i + 2
            continue
        if c == '"':
            out.append(pending)
            pending, quoted, i = "", not quoted, i + 1
            continue
        if not quoted and c in "#;":
            while i < len(text) and text[i] != "\n":
                i += 1
            break
        if not quoted and c in " \t":
            if out or pending:
                pending += c
            i += 1
            continue
        out.append(pending + c)
        pending, i = "", i + 1
    if quoted:
        raise ConfigError(f"{where}: unterminated quote")
    return "".join(out), i + 1


def parse_config(text: str, where: str = "config") -> list[Entry]:
    """The entries of one config file's text, in order; :class:`ConfigError` if git would
    refuse it."""
    entries: list[Entry] = []
    section: tuple[str, str | None] = ("", None)  # git takes a key before any section
    text = text.replace("\r\n", "\n")
    i, n = (1 if text.startswith("\ufeff") else 0), len(text)
    line = 1
    while i < n:
        c = text[i]
        if c in " \t\r":
            i += 1
        elif c == "\n":
            i, line = i + 1, line + 1
        elif c in "#;":
            while i < n and text[i] != "\n":
                i += 1
        elif c == "[":
            m = _SECTION.match(text, i)
            if m is None:
                raise ConfigError(f"{where}:{line}: bad section header")
            name, sub = m.group(1), m.group(2)
            if sub is not None:
                section = (name.lower(), re.sub(r"\\(.)", r"\1", sub))
            elif "." in name:
                head, _, rest = name.partition(".")
                section = (head.lower(), rest.lower())
            else:
                section = (name.lower(), None)
            i = m.end()
        else:
            m = _KEY.match(text, i)
            if m is None:
                raise ConfigError(f"{where}:{line}: expected a section or a key")
            key, i = m.group(0).lower(), m.end()
            while i < n and text[i] in " \t":
                i += 1
            value: str | None = None
            if i < n and text[i] == "=":
                start = text.count("\n", 0, i)
                value, i = _value(text, i + 1, f"{where}:{line}")
                line += text.count("\n", 0, i) - start
            elif i < n and text[i] not in "\n#;\r":
                raise ConfigError(f"{where}:{line}: expected '=' after {key!r}")
            entries.append((section[0], section[1], key, value))
    return entries


_T = TypeVar("_T")


def cached_read(
    path: str, cache: dict[str, tuple[Any, _T]], parse: Callable[[bytes], _T], empty: _T
) -> _T:
    """``parse`` of the file's bytes, kept in ``cache`` while the file's stat is unchanged
    (``--serve`` reads a repository again each line); ``empty`` for a missing file, as git.

    Raises:
        ConfigError: the file cannot be read, is larger than 256 MiB, or is under /proc or
            /dev (it reads differently in git's process).
    """
    if os.path.abspath(path).startswith(SPECIAL):
        raise ConfigError(f"{path} is not a file the check can read as git would")
    try:
        st = os.stat(path)
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        kept = cache.get(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        if st.st_size > _MAX_FILE:
            raise ConfigError(f"{path} is larger than {_MAX_FILE >> 20} MiB")
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return empty
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    found = parse(data)
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[path] = (stamp, found)
    return found


def _parsed(path: str) -> list[Entry]:
    """One config file's entries (bytes decoded as git does: UTF-8, CR kept)."""

    def parse(data: bytes) -> list[Entry]:
        return parse_config(data.decode("utf-8", "surrogateescape"), path)

    return cached_read(path, _PARSED, parse, [])


def read_config(path: str, depth: int = 0) -> list[Entry]:
    """The entries of the config file at ``path`` with its includes in place (a missing
    file, or a missing include, has none, as for git)."""
    out: list[Entry] = []
    for entry in _parsed(path):
        out.append(entry)
        section, _, name, value = entry
        if section in ("include", "includeif") and name == "path" and value:
            if depth >= _MAX_INCLUDES:
                raise ConfigError(f"{path}: includes nested deeper than {_MAX_INCLUDES}")
            target = os.path.expanduser(value)
            if not os.path.isabs(target):
                target = os.path.join(os.path.dirname(path), target)
            out.extend(read_config(target, depth + 1))
    return out


def _bool(value: str | None) -> bool | None:
    if value is None:
        return True
    low = value.strip().lower()
    return True if low in _TRUE else False if low in _FALSE else None


def _alias(name: str, value: str) -> tuple[frozenset[str], str] | None:
    """``alias.X = !cmd`` runs a shell command; ``alias.X = -c k=v …`` sets git options (any
    config). Git runs ``git remote-X``/``git credential-X`` itself for a remote or credential
    helper named X, so such an alias also applies to the network subcommands."""
    if value.lstrip().startswith("!"):
        why = "the alias runs a shell command"
    elif value.split()[:1] and value.split()[0].startswith("-"):
        why = "the alias sets git options (-c can set any config)"
    else:
        return None
    helper = name.startswith(("remote-", "credential-"))
    return (NETWORK | {name} if helper else frozenset({name})), why


def _classify(entry: Entry) -> tuple[str | frozenset[str], str] | None:
    """(scope, why) when the entry makes git run a program; None when it does not."""
    section, sub, name, value = entry
    v = value or ""
    key = (section, name) if sub is None else (section, "*", name)
    if key == ("core", "fsmonitor"):
        return None if _bool(value) is not None else (ALL, "runs this program on every index read")
    if key == ("core", "pager") or key == ("pager", name):
        if _bool(value) is not None or _PAGER_OK.match(v.strip()):
            return None
        scope: str | frozenset[str] = ALL if section == "core" else frozenset({name})
        return scope, "pages output through this program"
    if key in (("core", "editor"), ("sequence", "editor")):
        return NOT_PURE, "opens this editor program"
    if key == ("diff", "submodule") and v.strip().lower() == "diff":
        return ALL, "runs git in the submodules that commits name"
    if key in (("diff", "external"), ("diff", "*", "command"), ("diff", "*", "textconv")):
        return ALL, "runs this program to show diffs"
    if key in (("filter", "*", "clean"), ("filter", "*", "smudge"), ("filter", "*", "process")):
        return None if _LFS_FILTER.match(v.strip()) else (ALL, "filters file contents through it")
    if key in (("gpg", "program"), ("gpg", "*", "program")):
        return ALL, "runs this program to sign or verify"
    if key in (("core", "sshcommand"), ("core", "gitproxy"), ("core", "askpass")):
        return NETWORK, "runs this program to reach remotes"
    if key in (("core", "alternaterefscommand"), ("remote", "*", "uploadpack")):
        return NETWORK, "runs this program on fetch or push"
    if key == ("remote", "*", "receivepack"):
        return NETWORK, "runs this program on push"
    if key in (("credential", "helper"), ("credential", "*", "helper")):
        return (NETWORK, "runs this credential helper") if v[:1] == "!" or "/" in v else None
    if key in (("remote", "*", "url"), ("remote", "*", "pushurl")):
        return (NETWORK, "an ext:: remote runs a command") if v.startswith("ext::") else None
    if key in (("url", "*", "insteadof"), ("url", "*", "pushinsteadof")):
        ext = (sub or "").startswith("ext::")
        return (NETWORK, "rewrites URLs to an ext:: command") if ext else None
    if key == ("alias", name):
        return _alias(name, v)
    if key == ("submodule", "*", "update") and v.startswith("!"):
        return NOT_PURE, "submodule update runs this command"
    if key in (("hook", "*", "command"), ("gpg", "ssh", "defaultkeycommand")):
        return ALL, "runs this command"
    if section in ("mergetool", "difftool") and name in ("cmd", "path"):
        return NOT_PURE, "runs this merge or diff tool"
    if key == ("merge", "*", "driver") or (section == "sendemail" and name.endswith("cmd")):
        return NOT_PURE, "runs this command"
    if key == ("sendemail", "smtpserver") and "/" in v:
        return frozenset({"send-email"}), "sends mail through this program"
    if key == ("tar", "*", "command"):
        return frozenset({"archive"}), "compresses archives through this command"
    if key == ("interactive", "difffilter"):
        return NOT_PURE, "filters interactive diffs through this command"
    if (section in ("man", "browser") and name in ("cmd", "path")) or key == ("web", "browser"):
        return frozenset({"help", "instaweb", "web--browse"}), "opens this viewer program"
    return None


def program_keys(entries: list[Entry]) -> list[tuple[str | frozenset[str], str, str]]:
    """(scope, key, why) for each entry that makes git run a program (every occurrence)."""
    out = []
    for entry in entries:
        found = _classify(entry)
        if found is not None:
            section, sub, name, value = entry
            key = f"{section}.{sub}.{name}" if sub is not None else f"{section}.{name}"
            out.append((found[0], key, f"{key} = {value!r}: {found[1]}"))
    return out
