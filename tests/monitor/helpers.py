"""Small helpers shared by the monitor tests: a corpus of named tools, a log handler that keeps."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

__all__ = ["KeepHandler", "keep_records", "man_corpus"]


def man_corpus(home: Path, tools: Sequence[str]) -> Path:
    """A corpus file of ``tools``, each with a one-line man page (no tool is looked up)."""
    from tcplab.corpus import ToolDoc, write_corpus

    rows = [
        ToolDoc(
            name=t,
            path=f"/usr/bin/{t}",
            real_path=f"/usr/bin/{t}",
            package=None,
            man_section="1",
            man_path=None,
            doc_source="man",
            sections={"NAME": f"{t} - a test tool"},
            doc_text=f"{t} - a test tool",
        )
        for t in tools
    ]
    return Path(write_corpus(rows, home / "corpus.parquet"))


class KeepHandler(logging.Handler):
    """Keeps (message, thread id) of every record it handles."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, int]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), threading.get_ident()))


@contextmanager
def keep_records(logger_name: str) -> Iterator[KeepHandler]:
    """A :class:`KeepHandler` on ``logger_name`` with ``tcplab`` at INFO, both restored after."""
    handler = KeepHandler()
    logger = logging.getLogger(logger_name)
    root = logging.getLogger("tcplab")
    old = root.level
    root.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        root.setLevel(old)
