"""The documentation corpus: every tool on ``PATH`` with its man page, collected safely.

:func:`scan_tools` finds the executables, the Debian package owning each, and renders
their man pages with ``groff`` without ever running a tool (``--help`` capture is opt-in
and sandboxed). :func:`write_corpus` / :func:`read_corpus` store the rows as Parquet or
JSON Lines; :func:`split_sections` splits a rendered page into NAME, SYNOPSIS,
DESCRIPTION, OPTIONS... Example::

    from tcplab.corpus import read_corpus, scan_tools, write_corpus

    result = scan_tools(previous={r.name: r for r in read_corpus(old)})
    write_corpus(result.rows, out)
"""

from tcplab.corpus._io import CorpusFormat, check_writable, infer_format, read_corpus, write_corpus
from tcplab.corpus._model import DOC_SOURCES, DocSource, ScanResult, ToolDoc
from tcplab.corpus._scan import scan_tools, tcplab_version
from tcplab.corpus._text import clean_text, split_sections

__all__ = [
    "DOC_SOURCES",
    "CorpusFormat",
    "DocSource",
    "ScanResult",
    "ToolDoc",
    "check_writable",
    "clean_text",
    "infer_format",
    "read_corpus",
    "scan_tools",
    "split_sections",
    "tcplab_version",
    "write_corpus",
]
