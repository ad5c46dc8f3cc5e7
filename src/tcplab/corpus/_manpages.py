"""Finding man pages without ``man -w`` and rendering them with ``groff`` directly.

The index is built once per scan by listing the ``man1``, ``man8`` and ``man6``
directories of every man root (``$MANPATH``, else ``manpath``, else the usual
defaults). Sources are read as bytes, decompressed (gzip, bzip2, xz by magic number),
``.so`` includes are expanded relative to the man root, and the result is piped into
``groff -mandoc -Tutf8`` with overstrike, hyphenation and colour turned off: about ten
times faster than ``man`` per page.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tcplab.corpus._text import clean_text
from tcplab.errors import CorpusError

__all__ = [
    "GROFF_ARGS",
    "ManIndex",
    "ManPage",
    "ManPageError",
    "groff_path",
    "load_source",
    "man_roots",
    "render_source",
]

DEFAULT_MAN_ROOTS = ("/usr/local/share/man", "/usr/local/man", "/usr/share/man")
# man-db's order for commands: user commands, then administration, then games.
SECTION_DIRS = ("man1", "man8", "man6")
GROFF_ARGS = (
    "-mandoc", "-Tutf8", "-k", "-t", "-Wall",
    "-P-cbou",  # legacy grotty output with no bold/underline/overstrike, no SGR
    "-rLL=120n", "-rLT=120n",  # line and title width
    "-rHY=0",  # no hyphenation, so "--option" never breaks across lines
)  # fmt: skip
_COMPRESSED = (".gz", ".bz2", ".xz", ".lzma", ".z", ".Z")
_SO_RE = re.compile(rb"^[.']\s*so\s+(\S+)\s*$")
_MAX_SO_DEPTH = 5


class ManPageError(Exception):
    """A man page could not be read or rendered; the message is the row's ``error``."""


@dataclass(frozen=True)
class ManPage:
    """A man page file found in a man root.

    Attributes:
        path: the page file as listed (may be a symlink).
        section: its section from the file name (``"1"``, ``"8"``, ``"1ssl"``...).
        root: the man root it was found in (``.so`` paths are relative to it).
    """

    path: Path
    section: str
    root: Path


def _system_manpath() -> list[str]:
    """``manpath -q`` with ``$MANPATH`` ignored, else the usual defaults."""
    if shutil.which("manpath"):
        env = {k: v for k, v in os.environ.items() if k != "MANPATH"}
        try:
            done = subprocess.run(
                ["manpath", "-q"], capture_output=True, text=True, timeout=10, env=env, check=False
            )
            parts = [p for p in done.stdout.strip().split(":") if p]
            if parts:
                return parts
        except (OSError, subprocess.SubprocessError):
            pass
    return list(DEFAULT_MAN_ROOTS)


def man_roots() -> list[Path]:
    """The man roots to search, in order, as ``man`` would.

    ``$MANPATH`` when set (an empty component, as in ``/opt/man:``, stands for the
    system path, like man-db), else ``manpath -q``, else the usual defaults.
    """
    raw = os.environ.get("MANPATH", "")
    parts: list[str] = []
    for part in raw.split(":") if raw else [""]:
        parts.extend([part] if part else _system_manpath())
    seen: set[str] = set()
    roots: list[Path] = []
    for part in parts:
        real = os.path.realpath(part)
        if real not in seen and os.path.isdir(part):
            seen.add(real)
            roots.append(Path(part))
    return roots


def _parse_name(filename: str, digit: str) -> tuple[str, str] | None:
    """``"ls.1.gz"`` -> ``("ls", "1")``; ``None`` when not a page of this section dir."""
    for ext in _COMPRESSED:
        if filename.endswith(ext):
            filename = filename[: -len(ext)]
            break
    name, dot, section = filename.rpartition(".")
    if not dot or not name or not section.startswith(digit):
        return None
    return name, section


class ManIndex:
    """Command name -> best man page, from one listing of the section directories."""

    def __init__(self, roots: list[Path] | None = None) -> None:
        """List the section directories of ``roots`` (default :func:`man_roots`)."""
        self.roots = man_roots() if roots is None else roots
        best: dict[str, tuple[tuple[int, int, int], ManPage]] = {}
        for root_rank, root in enumerate(self.roots):
            for dir_rank, sdir in enumerate(SECTION_DIRS):
                try:
                    names = os.listdir(root / sdir)
                except OSError:
                    continue
                for filename in names:
                    parsed = _parse_name(filename, sdir[3:])
                    if parsed is None:
                        continue
                    name, section = parsed
                    rank = (dir_rank, root_rank, 0 if section == sdir[3:] else 1)
                    if name not in best or rank < best[name][0]:
                        best[name] = (rank, ManPage(root / sdir / filename, section, root))
        self._pages = {name: page for name, (_rank, page) in best.items()}

    def __len__(self) -> int:
        return len(self._pages)

    def find(self, name: str) -> ManPage | None:
        """The page documenting command ``name``, or ``None``."""
        return self._pages.get(name)


def _decompress(data: bytes) -> bytes:
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if data[:3] == b"BZh":
        return bz2.decompress(data)
    if data[:6] == b"\xfd7zXZ\x00":
        return lzma.decompress(data)
    if data[:4] == b"\x28\xb5\x2f\xfd":
        raise ManPageError("man page could not be read: zstd compression is not supported")
    return data


def _read(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ManPageError(f"man page unreadable: {path}: {exc.strerror or exc}") from exc
    try:
        return _decompress(raw)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise ManPageError(f"man page could not be decompressed: {path}: {exc}") from exc


def _find_so(target: str, roots: list[Path]) -> Path:
    base = Path(target)
    candidates = [base] if base.is_absolute() else [root / base for root in roots]
    for candidate in candidates:
        for ext in ("", *_COMPRESSED):
            full = candidate.with_name(candidate.name + ext)
            if full.is_file():
                return full
    raise ManPageError(f"man page could not be rendered: .so target {target} not found")


def _expand(data: bytes, roots: list[Path], depth: int) -> bytes:
    if b"so" not in data:
        return data
    out: list[bytes] = []
    for line in io.BytesIO(data):  # lines keep their b"\n", so a lone .so page == its target
        match = _SO_RE.match(line.rstrip(b"\n"))
        if match is None:
            out.append(line)
            continue
        if depth >= _MAX_SO_DEPTH:
            raise ManPageError("man page could not be rendered: .so includes nest too deep")
        target = match.group(1).decode("utf-8", "replace")
        included = _expand(_read(_find_so(target, roots)), roots, depth + 1)
        out.append(included if included.endswith(b"\n") else included + b"\n")
    return b"".join(out)


def load_source(page: ManPage) -> bytes:
    """The page's roff source, decompressed, with ``.so`` includes expanded.

    ``.so`` paths are resolved against the page's man root, then against the root of
    the file the page symlinks to (``/etc/alternatives`` pages land elsewhere).

    Raises:
        ManPageError: the page or an include is unreadable, corrupt or missing.
    """
    real = Path(os.path.realpath(page.path))
    roots = [page.root]
    if real.parent.parent != page.root:
        roots.append(real.parent.parent)
    return _expand(_read(page.path), roots, 0)


def _preprocessors(source: bytes) -> list[str]:
    """Extra groff options requested by a ``'\\" te`` first line (tbl is always on)."""
    first = source.split(b"\n", 1)[0]
    if not (first.startswith(b"'\\\" ") or first.startswith(b'.\\" ')):
        return []
    letters = first[4:].strip().decode("ascii", "replace")
    if not letters.isalpha() or len(letters) > 6:
        return []
    return [opt for letter, opt in (("e", "-e"), ("p", "-p")) if letter in letters]


def groff_path() -> str:
    """The ``groff`` executable.

    Raises:
        CorpusError: groff is not installed.
    """
    found = shutil.which("groff")
    if found is None:
        raise CorpusError(
            "rendering man pages needs groff, which is not on PATH; "
            "install it (Debian: apt-get install groff-base)"
        )
    return found


def render_source(source: bytes, groff: str, timeout: float = 60.0) -> str:
    """Render roff ``source`` to clean plain text with ``groff``.

    Raises:
        ManPageError: groff failed, timed out or produced nothing.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8"}
    try:
        done = subprocess.run(
            [groff, *GROFF_ARGS, *_preprocessors(source)],
            input=source, capture_output=True, timeout=timeout, env=env, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise ManPageError(
            f"man page could not be rendered: groff timed out ({timeout:g}s)"
        ) from exc
    except OSError as exc:
        raise ManPageError(f"man page could not be rendered: {exc}") from exc
    text = clean_text(done.stdout.decode("utf-8", "replace"))
    if done.returncode != 0 or not text.strip():
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = detail[0] if detail else f"groff exit status {done.returncode}, no output"
        raise ManPageError(f"man page could not be rendered: {why}")
    return text
