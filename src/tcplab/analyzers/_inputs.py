"""Building :class:`ToolInput` objects from a corpus: every arm sees the same documentation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from tcplab.analyzers._types import ToolInput
from tcplab.config import get_settings
from tcplab.corpus import ToolDoc, read_corpus
from tcplab.errors import UsageError

__all__ = ["default_corpus_path", "load_inputs", "to_input"]


def default_corpus_path() -> Path:
    """``TCPLAB_HOME/corpus/corpus.parquet``."""
    return get_settings().corpus_dir / "corpus.parquet"


def to_input(doc: ToolDoc) -> ToolInput:
    """The analyzer input for one corpus row."""
    return ToolInput(
        name=doc.name,
        sections=dict(doc.sections),
        doc_text=doc.doc_text,
        path=doc.path,
        doc_sha256=doc.doc_sha256,
    )


def load_inputs(
    names: Sequence[str] | None, corpus: Path | None = None, *, require_corpus: bool = True
) -> list[ToolInput]:
    """Inputs for ``names`` (all corpus tools when None), in the order given.

    A name missing from the corpus becomes a bare input (no documentation): arms that read
    documentation then answer UNKNOWN for it, as they must.

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
    return [to_input(by_name[n]) if n in by_name else ToolInput.bare(n) for n in names]
