"""Building :class:`ToolInput` objects from a corpus: every arm sees the same documentation.

An invocation input (issue 16) is a whole command line: its name is the line, and its
documentation is that of the line's first tool (the first word that is not a ``NAME=value``
assignment), so the rules, embedding and LLM arms answer on the same lines as the
``invocation`` arm, with the relevant man page.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tcplab.analyzers._types import ToolInput
from tcplab.config import get_settings
from tcplab.corpus import ToolDoc, read_corpus
from tcplab.errors import UsageError

__all__ = ["default_corpus_path", "first_tool", "load_inputs", "to_input"]


def default_corpus_path() -> Path:
    """``TCPLAB_HOME/corpus/corpus.parquet``."""
    return get_settings().corpus_dir / "corpus.parquet"


def first_tool(line: str) -> str:
    """The first tool of a command line: its first word that is not an assignment, quotes
    removed, as a basename (``FOO=1 /usr/bin/make x`` → ``make``); ``""`` for none."""
    for word in line.split():
        if "=" in word.split("/", 1)[0]:
            continue
        word = word.strip("'\"")
        return word.rstrip("/").rsplit("/", 1)[-1] or word
    return ""


def to_input(doc: ToolDoc, name: str | None = None) -> ToolInput:
    """The analyzer input for one corpus row (``name``: a command line it documents)."""
    return ToolInput(
        name=name or doc.name,
        sections=dict(doc.sections),
        doc_text=doc.doc_text,
        path=doc.path,
        doc_sha256=doc.doc_sha256,
    )


def load_inputs(
    names: Sequence[str] | None, corpus: Path | None = None, *, require_corpus: bool = True
) -> list[ToolInput]:
    """Inputs for ``names`` (all corpus tools when None), in the order given.

    A name with whitespace is a command line: it gets its first tool's documentation. A name
    (or a line's first tool) missing from the corpus becomes a bare input (no documentation):
    arms that read documentation then answer UNKNOWN for it, as they must.

    Raises:
        UsageError: the corpus file does not exist (and ``require_corpus``).
    """
    path = corpus or default_corpus_path()
    rows: Iterable[ToolDoc] = ()
    if path.exists():
        rows = read_corpus(path)
    elif require_corpus:
        raise UsageError(
            f"corpus {path} does not exist; run `tcplab corpus scan` first (or pass --corpus FILE)"
        )
    by_name: dict[str, ToolDoc] = {}
    for row in rows:
        by_name.setdefault(row.name, row)
    if names is None:
        return [to_input(doc) for doc in by_name.values()]
    return [_input(n, by_name) for n in names]


def _input(name: str, by_name: dict[str, ToolDoc]) -> ToolInput:
    if name in by_name:
        return to_input(by_name[name])
    if any(ch.isspace() for ch in name):
        doc = by_name.get(first_tool(name))
        if doc is not None:
            return to_input(doc, name)
    return ToolInput.bare(name)
