"""The row model of a documentation corpus: :class:`ToolDoc` and :class:`ScanResult`.

One :class:`ToolDoc` describes one executable found on ``PATH``: where it lives, which
Debian package owns it and the documentation collected for it *without running it*
(the rendered man page) or, only when explicitly allowed, its sandboxed ``--help``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "DOC_SOURCES",
    "DocSource",
    "ScanResult",
    "ToolDoc",
    "sha256_text",
]

DocSource = Literal["man", "help", "none"]
"""Where :attr:`ToolDoc.doc_text` comes from."""

DOC_SOURCES: tuple[DocSource, ...] = ("man", "help", "none")


def sha256_text(text: str) -> str:
    """Hex sha256 of ``text`` encoded as UTF-8."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ToolDoc:
    """One row of the corpus: one executable and its documentation.

    Attributes:
        name: the command name as typed (the file name in its ``PATH`` directory).
        path: the absolute path found on ``PATH`` (may be a symlink).
        real_path: ``path`` with every symlink resolved (for a dangling link, the missing
            target); ``None`` for a symlink loop.
        package: the Debian package owning ``path`` (or, failing that, ``real_path``);
            several owners are joined with ``", "``; ``None`` when no package owns it.
        man_section: the man section of the page used (``"1"``, ``"8"``, ``"1ssl"``...).
        man_path: the man page file used (as found, before resolving symlinks).
        doc_source: ``"man"``, ``"help"`` (sandboxed ``--help``, opt-in) or ``"none"``.
        sections: section name -> text (``NAME``, ``SYNOPSIS``, ``DESCRIPTION``,
            ``OPTIONS``... as in the page; a ``--help`` text is kept under ``HELP``).
        doc_text: the full rendered plain text (``""`` when there is none).
        doc_sha256: sha256 of ``doc_text`` (UTF-8); ``None`` when there is no text.
        source_sha256: sha256 of the man source bytes given to the renderer
            (decompressed, ``.so`` includes expanded); the key for re-scan reuse.
        doc_bytes: the size of ``doc_text`` in UTF-8 bytes.
        error: ``None``, or why the tool or its documentation could not be read.
        host: the host name of the scanning machine.
        scanned_at: when the scan started, UTC ISO 8601.
        tcplab_version: the tcplab version that wrote the row.
        pkg_version, pkg_section, pkg_priority, pkg_depends, pkg_summary: the Debian record
            of ``package`` (its first owner) from ``dpkg-query``: version, section
            (``admin``, ``net``...), priority, ``Depends``/``Pre-Depends`` package names
            joined with ``", "``, one-line summary. ``None`` when unowned, without dpkg, or
            in a corpus written before format 2.
        dpkg_status_sha256: sha256 of ``/var/lib/dpkg/status`` when the record was read
            (the reuse key of the package records).
    """

    name: str
    path: str
    real_path: str | None
    package: str | None
    man_section: str | None
    man_path: str | None
    doc_source: DocSource
    sections: dict[str, str] = field(default_factory=dict)
    doc_text: str = ""
    doc_sha256: str | None = None
    source_sha256: str | None = None
    doc_bytes: int = 0
    error: str | None = None
    host: str = ""
    scanned_at: str = ""
    tcplab_version: str = ""
    pkg_version: str | None = None
    pkg_section: str | None = None
    pkg_priority: str | None = None
    pkg_depends: str | None = None
    pkg_summary: str | None = None
    dpkg_status_sha256: str | None = None

    @property
    def in_sbin(self) -> bool:
        """True when the tool is installed in an ``sbin`` directory (administration)."""
        return "/sbin/" in self.path

    def to_dict(self) -> dict[str, Any]:
        """The row as a plain dict (``sections`` copied), in field order."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sections"] = dict(self.sections)
        return out

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The column names, in order."""
        return tuple(f.name for f in fields(cls))


@dataclass(frozen=True)
class ScanResult:
    """What :func:`tcplab.corpus.scan_tools` returns.

    Attributes:
        rows: one :class:`ToolDoc` per tool, sorted by name.
        n_tools: number of tools found.
        n_man: tools documented by a man page.
        n_help: tools documented by their sandboxed ``--help`` (only with ``allow_help``).
        n_rendered: man pages rendered in this scan (distinct sources).
        n_reused: tools whose rendered page was reused from the previous corpus.
        n_errors: rows carrying an ``error``.
        seconds: wall-clock duration of the scan.
        packages_reused: the package records came from the previous corpus (dpkg's status
            database unchanged), so ``dpkg-query`` was not run.
    """

    rows: tuple[ToolDoc, ...]
    n_tools: int
    n_man: int
    n_help: int
    n_rendered: int
    n_reused: int
    n_errors: int
    seconds: float
    packages_reused: bool = False

    def by_name(self) -> dict[str, ToolDoc]:
        """The rows keyed by tool name (the shape ``scan_tools(previous=...)`` takes)."""
        return {row.name: row for row in self.rows}
