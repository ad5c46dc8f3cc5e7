"""The scanner: tools on ``PATH`` -> :class:`ToolDoc` rows, without running any tool.

Stages: list the executables (:mod:`._tools`), look up their dpkg owners in one pass
and the owners' package records in one ``dpkg-query`` call (:mod:`._dpkg`),
index the man pages once (:mod:`._manpages`), read and hash every page source in a
thread pool, then render each *distinct* source with ``groff`` in the same pool, unless
the previous corpus already holds a rendering of the identical source (reuse). Only with
``allow_help`` are tools without a man page run, with ``--help``, in a sandbox
(:mod:`._help`).
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from tcplab.corpus._dpkg import PackageInfo, dpkg_status_sha256, package_infos
from tcplab.corpus._help import Sandbox, capture_help, detect_sandbox
from tcplab.corpus._manpages import (
    ManIndex,
    ManPage,
    ManPageError,
    groff_path,
    load_source,
    render_source,
)
from tcplab.corpus._model import DocSource, ScanResult, ToolDoc, sha256_text
from tcplab.corpus._text import split_sections
from tcplab.corpus._tools import FoundTool, find_owners, find_tools

__all__ = ["scan_tools", "tcplab_version"]

Progress = Callable[[int, int], None]


def tcplab_version() -> str:
    """The installed tcplab version, or ``"unknown"`` when running from a bare checkout."""
    try:
        return version("tcplab")
    except PackageNotFoundError:
        return "unknown"


@dataclass
class _Work:
    """Mutable per-tool state while the scan runs."""

    tool: FoundTool
    page: ManPage | None = None
    source_sha: str | None = None
    text: str = ""
    doc_source: DocSource = "none"
    error: str | None = None
    reused: bool = False


def _load(work: _Work) -> bytes | None:
    """Read and hash the page source; record the error instead of raising."""
    assert work.page is not None
    try:
        source = load_source(work.page)
    except ManPageError as exc:
        work.error = str(exc)
        return None
    work.source_sha = hashlib.sha256(source).hexdigest()
    return source


def _default_workers() -> int:
    """Two threads per usable CPU: a groff pipeline is four processes that wait on each other."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return 2 * max(1, cpus)


class _Ticker:
    """Counts finished tools (each once) and reports them to the progress callback."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self._done, self._progress = total, set[int](), progress
        if progress is not None:
            progress(0, total)

    def finish(self, works: Iterable[_Work]) -> None:
        before = len(self._done)
        self._done.update(id(w) for w in works)
        if self._progress is not None and len(self._done) != before:
            self._progress(len(self._done), self.total)


def _render_all(
    works: list[_Work],
    sources: dict[str, bytes],
    previous: Mapping[str, ToolDoc] | None,
    pool: ThreadPoolExecutor,
    ticker: _Ticker,
) -> int:
    """Fill ``text`` of every tool with a page; returns the number of renders run."""
    reusable: dict[str, str] = {}
    for row in (previous or {}).values():
        if row.doc_source == "man" and row.error is None and row.source_sha256 and row.doc_text:
            reusable[row.source_sha256] = row.doc_text
    by_sha: dict[str, list[_Work]] = {}
    for work in works:
        if work.source_sha is not None:
            by_sha.setdefault(work.source_sha, []).append(work)
    groff = groff_path() if any(sha not in reusable for sha in by_sha) else ""
    futures: dict[Future[str], str] = {}
    for sha, group in by_sha.items():
        if sha in reusable:
            for work in group:
                work.text, work.doc_source, work.reused = reusable[sha], "man", True
            ticker.finish(group)
        else:
            futures[pool.submit(render_source, sources[sha], groff)] = sha
    for future in as_completed(futures):
        group = by_sha[futures[future]]
        try:
            text = future.result()
        except ManPageError as exc:
            for work in group:
                work.error = str(exc)
        else:
            for work in group:
                work.text, work.doc_source = text, "man"
        ticker.finish(group)
    return len(futures)


def _run_help(works: list[_Work], pool: ThreadPoolExecutor, ticker: _Ticker) -> None:
    sandbox: Sandbox = detect_sandbox()
    futures = {pool.submit(capture_help, w.tool.path, sandbox): w for w in works}
    for future in as_completed(futures):
        work = futures[future]
        text, why = future.result()
        if text is not None:
            work.text, work.doc_source = text, "help"
        elif work.error is None:
            work.error = why
        ticker.finish([work])


def _row(work: _Work, package: str | None, base: ToolDoc) -> ToolDoc:
    tool, page, text = work.tool, work.page, work.text
    sections = {"HELP": text} if work.doc_source == "help" else split_sections(text)
    return replace(
        base,
        name=tool.name,
        path=tool.path,
        real_path=tool.real_path,
        package=package,
        man_section=page.section if page else None,
        man_path=str(page.path) if page else None,
        doc_source=work.doc_source,
        sections=sections,
        doc_text=text,
        doc_sha256=sha256_text(text) if text else None,
        source_sha256=work.source_sha,
        doc_bytes=len(text.encode("utf-8")),
        error=work.tool.error or work.error,
    )


def _previous_packages(
    previous: Mapping[str, ToolDoc] | None,
) -> tuple[dict[str, PackageInfo], str | None]:
    """The package records of a previous corpus and the dpkg status hash they were read at."""
    infos: dict[str, PackageInfo] = {}
    shas: set[str | None] = set()
    for row in (previous or {}).values():
        if row.package:
            shas.add(row.dpkg_status_sha256)
            if row.dpkg_status_sha256 is not None:
                infos[row.package.split(", ")[0]] = PackageInfo(
                    package=row.package.split(", ")[0], version=row.pkg_version,
                    section=row.pkg_section, priority=row.pkg_priority,
                    depends=row.pkg_depends, summary=row.pkg_summary,
                )  # fmt: skip
    return infos, (shas.pop() if len(shas) == 1 else None)


def _with_package(row: ToolDoc, infos: Mapping[str, PackageInfo], sha: str | None) -> ToolDoc:
    info = infos.get(row.package.split(", ")[0]) if row.package else None
    if info is None:
        return row
    return replace(
        row, pkg_version=info.version, pkg_section=info.section, pkg_priority=info.priority,
        pkg_depends=info.depends, pkg_summary=info.summary, dpkg_status_sha256=sha,
    )  # fmt: skip


def scan_tools(
    path_dirs: Sequence[Path] | None = None,
    *,
    allow_help: bool = False,
    previous: Mapping[str, ToolDoc] | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> ScanResult:
    """Collect the documentation of every executable on ``PATH`` without running it.

    Args:
        path_dirs: directories to scan, in lookup order; ``None`` means ``$PATH``.
        allow_help: also run ``TOOL --help`` in a sandbox for tools with no man page
            (see :mod:`tcplab.corpus._help` and ``docs/corpus.md`` for the risks).
        previous: an earlier corpus keyed by name (see :func:`read_corpus`); a page whose
            source sha256 equals any previous row's ``source_sha256`` is not re-rendered.
        workers: threads (each drives one ``groff`` pipeline); default: twice the
            usable CPUs.
        progress: called as ``progress(done, total)`` from the calling thread.

    Returns:
        The rows (sorted by name) and counts.

    Raises:
        CorpusError: an explicit ``path_dirs`` entry is missing, or ``groff`` is needed
            but not installed.
    """
    started = time.perf_counter()
    base = ToolDoc(
        name="", path="", real_path=None, package=None, man_section=None, man_path=None,
        doc_source="none", host=socket.gethostname(),
        scanned_at=datetime.now(UTC).isoformat(timespec="seconds"),
        tcplab_version=tcplab_version(),
    )  # fmt: skip
    tools = find_tools(path_dirs)
    owners = find_owners((t.path, t.real_path) for t in tools)
    index = ManIndex()
    works = [_Work(tool) for tool in tools]
    for work in works:
        tool = work.tool
        if tool.real_path is None or not os.path.exists(tool.real_path):
            continue  # dangling symlink or loop: nothing to document
        work.page = index.find(tool.name) or index.find(os.path.basename(tool.real_path))
    ticker = _Ticker(len(works), progress)
    with ThreadPoolExecutor(max_workers=workers or _default_workers()) as pool:
        with_page = [w for w in works if w.page is not None]
        sources: dict[str, bytes] = {}
        ticker.finish(w for w in works if w.page is None and not allow_help)
        for work, source in zip(with_page, pool.map(_load, with_page), strict=True):
            if source is not None and work.source_sha is not None:
                sources[work.source_sha] = source
            else:
                ticker.finish([work])  # unreadable page
        n_rendered = _render_all(with_page, sources, previous, pool, ticker)
        if allow_help:
            _run_help([w for w in works if not w.text and w.tool.error is None], pool, ticker)
        ticker.finish(works)
    rows = tuple(_row(w, owners.get(w.tool.path), base) for w in works)
    status_sha = dpkg_status_sha256()
    prev_infos, prev_sha = _previous_packages(previous)
    infos, pkg_reused = package_infos((r.package for r in rows), prev_infos, status_sha, prev_sha)
    rows = tuple(_with_package(r, infos, status_sha) for r in rows)
    return ScanResult(
        rows=rows,
        n_tools=len(rows),
        n_man=sum(r.doc_source == "man" for r in rows),
        n_help=sum(r.doc_source == "help" for r in rows),
        n_rendered=n_rendered,
        n_reused=sum(w.reused for w in works),
        n_errors=sum(r.error is not None for r in rows),
        seconds=time.perf_counter() - started,
        packages_reused=pkg_reused,
    )
