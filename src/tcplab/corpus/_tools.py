"""Finding the executables on ``PATH`` and the Debian packages that own them.

Nothing here runs a tool: executables are found with ``scandir``/``stat`` and package
ownership is read from dpkg's own file lists (``/var/lib/dpkg/info/*.list``, the data
``dpkg -S`` searches), once for all tools, which is much faster than one ``dpkg -S``
per tool.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tcplab.errors import CorpusError

__all__ = ["DPKG_INFO_DIR", "FoundTool", "default_path_dirs", "find_owners", "find_tools"]

DPKG_INFO_DIR = Path("/var/lib/dpkg/info")
# Directories that /usr-merge turned into symlinks: /bin -> /usr/bin and so on.
_MERGED_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


@dataclass(frozen=True)
class FoundTool:
    """One entry of a ``PATH`` directory that is (or claims to be) an executable.

    Attributes:
        name: the file name, i.e. the command name.
        path: the absolute path in the ``PATH`` directory.
        real_path: ``path`` with symlinks resolved (the missing target when dangling).
        error: ``None``, or why the entry cannot be used (dangling symlink...).
    """

    name: str
    path: str
    real_path: str | None
    error: str | None = None


def default_path_dirs() -> list[Path]:
    """The directories of ``$PATH``, in order (empty entries dropped)."""
    return [Path(part) for part in os.environ.get("PATH", "").split(os.pathsep) if part]


def _check_dirs(path_dirs: Sequence[Path], explicit: bool) -> list[Path]:
    """Keep existing directories, once each (``/bin`` and ``/usr/bin`` count once)."""
    seen: set[str] = set()
    out: list[Path] = []
    for directory in path_dirs:
        directory = Path(directory).absolute()
        if not directory.is_dir():
            if explicit:
                what = "does not exist" if not directory.exists() else "is not a directory"
                raise CorpusError(f"--path-dirs: {directory} {what}; pass existing directories")
            continue  # a stale $PATH entry is common and harmless
        real = os.path.realpath(directory)
        if real not in seen:
            seen.add(real)
            out.append(directory)
    return out


def _inspect(name: str, path: str) -> FoundTool | None:
    """Classify one directory entry; ``None`` when it is not an executable at all."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name: keep a printable form
        shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        return FoundTool(os.path.basename(shown), shown, None, "file name is not valid UTF-8")
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return FoundTool(name, path, os.path.realpath(path), "dangling symlink")
        return None  # vanished while scanning
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return FoundTool(name, path, None, "symlink loop")
        return FoundTool(name, path, None, f"unreadable: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode) or not os.access(path, os.X_OK):
        return None  # directories, devices, data files: not tools
    real = os.path.realpath(path)
    if not os.access(path, os.R_OK):
        return FoundTool(name, path, real, "unreadable")
    return FoundTool(name, path, real)


def find_tools(path_dirs: Sequence[Path] | None = None) -> list[FoundTool]:
    """List the executables of ``path_dirs`` (default ``$PATH``) as the shell sees them.

    A name found in several directories is kept once, from the first directory, as the
    shell would run it. Non-executable files and directories are skipped; dangling
    symlinks, symlink loops and unreadable executables are kept with an ``error``.

    Args:
        path_dirs: directories to scan, in lookup order; ``None`` means ``$PATH``.

    Returns:
        The tools, sorted by name.

    Raises:
        CorpusError: an explicitly given directory does not exist or cannot be listed.
    """
    explicit = path_dirs is not None
    dirs = _check_dirs(default_path_dirs() if path_dirs is None else path_dirs, explicit)
    found: dict[str, FoundTool] = {}
    for directory in dirs:
        try:
            names = sorted(entry.name for entry in os.scandir(directory))
        except OSError as exc:
            if explicit:
                raise CorpusError(f"cannot list {directory}: {exc.strerror or exc}") from exc
            continue
        for name in names:
            if name in found:
                continue
            tool = _inspect(name, os.path.join(directory, name))
            if tool is not None:
                found[name] = tool
    return [found[name] for name in sorted(found)]


def _variants(path: str) -> list[str]:
    """``path`` plus its /usr-merge twin (``/bin/x`` <-> ``/usr/bin/x``)."""
    parts = path.split("/")
    if len(parts) > 3 and parts[1] == "usr" and parts[2] in _MERGED_DIRS:
        return [path, "/" + "/".join(parts[2:])]
    if len(parts) > 2 and parts[1] in _MERGED_DIRS:
        return [path, "/usr" + path]
    return [path]


def find_owners(
    tools: Iterable[tuple[str, str | None]], info_dir: Path = DPKG_INFO_DIR
) -> dict[str, str | None]:
    """Find the Debian package owning each tool, like ``dpkg -S`` but in one pass.

    The path on ``PATH`` is looked up first, then its resolved real path (so
    ``/usr/bin/awk`` -> ``/etc/alternatives/awk`` -> ``/usr/bin/mawk`` still finds
    ``mawk``); both are tried with their /usr-merge twin.

    Args:
        tools: ``(path, real_path)`` pairs.
        info_dir: dpkg's info directory; when missing (not Debian) nothing is owned.

    Returns:
        ``path`` -> package name (several joined with ``", "``, architecture dropped)
        or ``None``.
    """
    pairs = list(tools)
    wanted: set[str] = set()
    for path, real in pairs:
        wanted.update(_variants(path))
        if real:
            wanted.update(_variants(real))
    owners: dict[str, list[str]] = {}
    try:
        lists = sorted(info_dir.glob("*.list"))
    except OSError:
        lists = []
    for list_file in lists:
        package = list_file.name[: -len(".list")].split(":", 1)[0]
        try:
            data = list_file.read_bytes().decode("utf-8", "surrogateescape")
        except OSError:
            continue
        for line in data.splitlines():
            if line in wanted:
                holders = owners.setdefault(line, [])
                if package not in holders:
                    holders.append(package)
    out: dict[str, str | None] = {}
    for path, real in pairs:
        candidates = _variants(path) + (_variants(real) if real else [])
        hit = next((owners[c] for c in candidates if c in owners), None)
        out[path] = ", ".join(hit) if hit else None
    return out
