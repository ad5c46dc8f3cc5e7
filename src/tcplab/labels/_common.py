"""What the tool label files and the invocation label files share.

Reading a file (regular files only, one-line errors), the header and capability-column rules,
the check that reports every problem, and the checked set with the file's SHA-256. The two
formats differ only in their columns, their row checks (each with its own messages) and their
split; those stay in ``_io`` and ``_invocations``.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Self, TypeVar

from tcplab.errors import LabelsError

__all__ = [
    "LabelFile",
    "Parser",
    "capability_names",
    "check_file",
    "header_problems",
    "read_bytes",
]

L = TypeVar("L")

#: a format's parser: the decoded text in, the good labels by key and every problem out
Parser = Callable[[str], tuple[dict[str, L], list[str]]]


def read_bytes(path: Path) -> bytes:
    """The bytes of a regular file; LabelsError (one line) for anything else.

    Opened non-blocking so a FIFO or device is refused instead of blocking the read.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise LabelsError(f"{path}: no such labels file") from exc
    except IsADirectoryError as exc:
        raise LabelsError(f"{path}: is a directory, not a labels file") from exc
    except OSError as exc:
        raise LabelsError(f"{path}: cannot open labels file: {exc.strerror or exc}") from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise LabelsError(f"{path}: is a directory, not a labels file")
        if not stat.S_ISREG(mode):
            raise LabelsError(f"{path}: not a regular file (a FIFO, socket or device?)")
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
        return b"".join(chunks)
    except OSError as exc:
        raise LabelsError(f"{path}: cannot read labels file: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)


def header_problems(fieldnames: Sequence[str] | None, columns: Sequence[str]) -> list[str]:
    """The one problem of a header that lacks some of ``columns``, or none."""
    missing = [c for c in columns if c not in (fieldnames or [])]
    if not missing:
        return []
    return [f"line 1: header must be {','.join(columns)}; missing {', '.join(missing)}"]


def capability_names(text: str) -> list[str]:
    """The ``|``-separated names of a capabilities cell, stripped, empty ones dropped."""
    return [c for c in (c.strip() for c in text.split("|")) if c]


def check_file(path: str | os.PathLike[str], parse: Parser[L]) -> list[str]:
    """Every problem in a label file, each naming its line; empty when the file is good.

    Raises:
        LabelsError: the file cannot be read (missing, a directory, a FIFO, unreadable).
    """
    data = read_bytes(Path(path))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})"]
    labels, problems = parse(text)
    if not labels and not problems:
        problems.append("the file has a header but no labels")
    return problems


@dataclass(frozen=True)
class LabelFile(Generic[L]):
    """A checked label file: labels by key (in file order), plus the file's SHA-256."""

    path: Path
    sha256: str
    labels: dict[str, L]

    def __len__(self) -> int:
        return len(self.labels)

    def __iter__(self) -> Iterator[L]:
        return iter(self.labels.values())

    @classmethod
    def load(cls, path: Path, parse: Parser[L], what: str) -> Self:
        """Read and check ``path`` with ``parse``; ``what`` names the file in the error.

        Raises:
            LabelsError: the file is missing or has problems; ``problems`` lists all of them.
        """
        problems = check_file(path, parse)
        if problems:
            raise LabelsError(f"{path}: {len(problems)} problem(s) in {what}", problems)
        data = read_bytes(path)
        labels, _ = parse(data.decode("utf-8-sig"))
        return cls(path, hashlib.sha256(data).hexdigest(), labels)
