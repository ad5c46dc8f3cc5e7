"""Where git finds a repository from a directory, as git 2.39 does it (``setup.c``), and the
submodules recorded in a repository's index.

Differences from git only ever add repositories: the walk up starts from the physical path
(git's ``getcwd``); a directory that only looks like a repository (a ``HEAD`` git would reject,
``objects``/``refs`` missing) is kept and the walk goes on above it; ceilings and file-system
boundaries are not applied.
"""

from __future__ import annotations

import os
import re
from typing import Any

from tcplab.check._gitconfig import SPECIAL, ConfigError, cached_read

__all__ = ["Layout", "find_repositories", "git_dir_layout", "gitlinks", "read_pointer"]

Layout = tuple[str, str, str | None]  # git dir, common dir, work tree (None: bare)
_HEX = re.compile(rb"^[0-9a-f]{40}")
_GITLINK = b"\x00\x00\xe0\x00"  # index entry mode 0o160000, big-endian
_LINKS: dict[str, tuple[Any, list[str]]] = {}


def read_pointer(path: str, prefix: str = "") -> str:
    """The path in a ``.git`` file (``gitdir: PATH``) or a ``commondir`` file, resolved against
    the file's directory physically; only CR and LF are stripped, as by git."""
    try:
        with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
            text = f.read(8192)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if prefix:
        if not text.startswith(prefix):
            raise ConfigError(f"{path} is not a gitdir file")
        text = text[len(prefix) :]
    target = text.rstrip("\r\n")
    if "\x00" in target or os.path.join("/", target).startswith(SPECIAL):
        raise ConfigError(f"{path} points where the check cannot follow git")
    return os.path.realpath(os.path.join(os.path.dirname(path), target))


def _valid_head(path: str) -> bool:
    try:
        if os.path.islink(path):
            return os.readlink(path).startswith("refs/")
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError:
        return False
    if head.startswith(b"ref:"):
        return head[4:].lstrip(b" \t\n\r").startswith(b"refs/")  # git's isspace
    return _HEX.match(head) is not None


def _state(path: str) -> tuple[str, Layout] | None:
    """("valid" | "maybe", layout) when ``path`` looks like a git directory, else None."""
    if not os.path.lexists(os.path.join(path, "HEAD")):
        return None
    common = path
    try:
        if os.path.lexists(os.path.join(path, "commondir")):
            common = read_pointer(os.path.join(path, "commondir"))
    except ConfigError:
        return "maybe", (path, path, None)
    ok = _valid_head(os.path.join(path, "HEAD")) and all(
        os.access(os.path.join(common, name), os.X_OK) for name in ("objects", "refs")
    )
    return ("valid" if ok else "maybe"), (path, common, None)


def git_dir_layout(path: str) -> Layout | None:
    """The layout of a git directory named directly (``--git-dir``), None if it is none."""
    state = _state(path)
    return None if state is None else state[1]


def find_repositories(start: str, every: bool = False) -> list[Layout]:
    """The repositories git may use from ``start``: the one it finds walking up the physical
    path, and every repository-like directory passed on the way (git may reject them); with
    ``every``, all of them up to the root (tools such as go skip ``.git`` files)."""
    d = os.path.realpath(start)
    found: list[Layout] = []
    while True:
        dotgit = os.path.join(d, ".git")
        state = None
        if os.path.isdir(dotgit):
            state = _state(dotgit)
        elif os.path.lexists(dotgit):
            try:
                state = _state(read_pointer(dotgit, "gitdir: "))
            except ConfigError:
                state = None  # git gives up on a bad .git file; nothing it reads is known
                found.append((dotgit, dotgit, d))
        if state is None:
            state = _state(d)  # a bare repository
            work: str | None = None
        else:
            work = d
        if state is not None:
            git_dir, common, _ = state[1]
            found.append((git_dir, common, work))
            if state[0] == "valid" and not every:
                return found
        parent = os.path.dirname(d)
        if parent == d:
            return found
        d = parent


def _index_names(data: bytes, hash_len: int) -> list[str]:
    """The paths of the gitlink entries of an index of version 2 or 3 (entries start at
    offsets 4 mod 8, so a mode field sits at 4 mod 8)."""
    version = int.from_bytes(data[4:8], "big")
    out: list[str] = []
    pos = data.find(_GITLINK, 12)
    while pos != -1:
        flags_at = pos + 16 + hash_len
        if pos % 8 == 4 and flags_at + 2 <= len(data):
            flags = int.from_bytes(data[flags_at : flags_at + 2], "big")
            name_at = flags_at + 2 + (2 if version >= 3 and flags & 0x4000 else 0)
            end = data.find(b"\x00", name_at)
            if end != -1:
                out.append(data[name_at:end].decode("utf-8", "surrogateescape"))
        pos = data.find(_GITLINK, pos + 1)
    return out


def _index_v4(data: bytes, hash_len: int) -> list[str]:
    """Gitlink paths of a version-4 index (path prefixes compressed: read every entry)."""
    count = int.from_bytes(data[8:12], "big")
    pos, name, out = 12, b"", []
    for _ in range(count):
        mode = int.from_bytes(data[pos + 24 : pos + 28], "big")
        flags = int.from_bytes(data[pos + 40 + hash_len : pos + 42 + hash_len], "big")
        pos += 42 + hash_len + (2 if flags & 0x4000 else 0)
        byte = data[pos]  # git's offset varint (varint.c)
        pos += 1
        strip = byte & 0x7F
        while byte & 0x80:
            byte = data[pos]
            pos += 1
            strip = ((strip + 1) << 7) + (byte & 0x7F)
        end = data.index(b"\x00", pos)
        name = name[: len(name) - strip] + data[pos:end]
        pos = end + 1
        if mode == 0o160000:
            out.append(name.decode("utf-8", "surrogateescape"))
    return out


def gitlinks(git_dir: str, hash_len: int = 20) -> list[str]:
    """The submodule paths recorded in ``git_dir/index`` and its shared indexes (a split
    index keeps most entries in ``sharedindex.*``)."""
    try:
        shared = sorted(n for n in os.listdir(git_dir) if n.startswith("sharedindex."))
    except OSError:
        shared = []
    out: list[str] = []
    for name in ["index", *shared]:
        out += [p for p in _links(os.path.join(git_dir, name), hash_len) if p not in out]
    return out


def _links(path: str, hash_len: int) -> list[str]:
    """The submodule paths of one index file (kept while its stat is unchanged).

    Raises:
        ConfigError: an index that cannot be read (git could not run either).
    """

    def parse(data: bytes) -> list[str]:
        if data[:4] != b"DIRC" or _GITLINK not in data:
            return []
        v4 = int.from_bytes(data[4:8], "big") == 4
        try:
            return _index_v4(data, hash_len) if v4 else _index_names(data, hash_len)
        except (IndexError, ValueError) as exc:
            raise ConfigError(f"cannot read the entries of {path}") from exc

    return cached_read(path, _LINKS, parse, [])
