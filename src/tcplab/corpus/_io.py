"""Reading and writing corpus files: Parquet (default) or JSON Lines, written atomically.

In Parquet, ``sections`` is a ``map<string, string>`` column (section name -> text, in
page order), so query engines can address ``sections['OPTIONS']`` directly; in JSON
Lines it is a plain object. Every other column is a string, except ``doc_bytes``
(int64). :func:`read_corpus` tells the formats apart by the Parquet magic bytes, not by
the file name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.corpus._model import DOC_SOURCES, ToolDoc
from tcplab.errors import CorpusError

__all__ = ["CorpusFormat", "check_writable", "infer_format", "read_corpus", "write_corpus"]

CorpusFormat = Literal["parquet", "jsonl"]
FORMAT_VERSION = "2"  # 2: pkg_* and dpkg_status_sha256 columns (a format-1 file reads them as null)
_JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
_STR = pa.string()
SCHEMA = pa.schema(
    [
        pa.field("name", _STR, nullable=False),
        pa.field("path", _STR, nullable=False),
        pa.field("real_path", _STR),
        pa.field("package", _STR),
        pa.field("man_section", _STR),
        pa.field("man_path", _STR),
        pa.field("doc_source", _STR, nullable=False),
        pa.field("sections", pa.map_(_STR, _STR)),
        pa.field("doc_text", _STR),
        pa.field("doc_sha256", _STR),
        pa.field("source_sha256", _STR),
        pa.field("doc_bytes", pa.int64()),
        pa.field("error", _STR),
        pa.field("host", _STR),
        pa.field("scanned_at", _STR),
        pa.field("tcplab_version", _STR),
        pa.field("pkg_version", _STR),
        pa.field("pkg_section", _STR),
        pa.field("pkg_priority", _STR),
        pa.field("pkg_depends", _STR),
        pa.field("pkg_summary", _STR),
        pa.field("dpkg_status_sha256", _STR),
    ],
    metadata={"tcplab.corpus.format_version": FORMAT_VERSION},
)
_REQUIRED = ("name", "path", "doc_source")


def infer_format(path: Path) -> CorpusFormat:
    """``"jsonl"`` for ``.jsonl``/``.ndjson``/``.json`` files, else ``"parquet"``."""
    return "jsonl" if path.suffix.lower() in _JSONL_SUFFIXES else "parquet"


def check_writable(path: Path) -> None:
    """Fail early, before a long scan, when ``path`` cannot be written.

    Raises:
        CorpusError: ``path`` is a directory, or its nearest existing ancestor is not a
            writable directory.
    """
    path = Path(path).absolute()
    if path.is_dir():
        raise CorpusError(f"output {path} is a directory; pass a file name such as corpus.parquet")
    parent = path.parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CorpusError(f"cannot write {path}: {parent} is not a writable directory")


def _table(rows: Iterable[ToolDoc]) -> pa.Table:
    dicts = [row.to_dict() for row in rows]
    for d in dicts:
        d["sections"] = list(d["sections"].items())
    return pa.Table.from_pylist(dicts, schema=SCHEMA)


def write_corpus(rows: Iterable[ToolDoc], path: Path, fmt: CorpusFormat = "parquet") -> Path:
    """Write ``rows`` to ``path`` atomically (a temp file beside it, then ``os.replace``).

    Args:
        rows: the corpus rows.
        path: destination; missing parent directories are created.
        fmt: ``"parquet"`` or ``"jsonl"``.

    Returns:
        ``path``.

    Raises:
        CorpusError: unknown format, or the file cannot be written.
    """
    if fmt not in ("parquet", "jsonl"):
        raise CorpusError(f"unknown corpus format {fmt!r}; use 'parquet' or 'jsonl'")
    path = Path(path)
    rows = list(rows)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CorpusError(f"cannot write {path}: {exc.strerror or exc}") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            if fmt == "parquet":
                pq.write_table(_table(rows), handle, compression="zstd")
            else:
                for row in rows:
                    handle.write(json.dumps(row.to_dict()).encode("ascii") + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except (OSError, pa.ArrowException) as exc:
        tmp.unlink(missing_ok=True)
        raise CorpusError(f"cannot write {path}: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _str_or_none(value: Any, key: str, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise CorpusError(f"{where}: column {key!r} must be a string or null, got {value!r:.40}")


def _to_row(data: Mapping[str, Any], where: str) -> ToolDoc:
    """Validate one decoded record and build its :class:`ToolDoc`."""
    missing = [key for key in _REQUIRED if not data.get(key)]
    if missing:
        raise CorpusError(f"{where}: missing {', '.join(missing)}; not a tcplab corpus row")
    if data["doc_source"] not in DOC_SOURCES:
        raise CorpusError(f"{where}: doc_source {data['doc_source']!r} is not one of {DOC_SOURCES}")
    raw_sections = data.get("sections") or {}
    if isinstance(raw_sections, list):  # Parquet map -> [(key, value), ...]
        raw_sections = dict(raw_sections)
    if not isinstance(raw_sections, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw_sections.items()
    ):
        raise CorpusError(f"{where}: 'sections' must map section names to text")
    doc_bytes = data.get("doc_bytes") or 0
    if not isinstance(doc_bytes, int):
        raise CorpusError(f"{where}: 'doc_bytes' must be an integer")
    text = {k: _str_or_none(data.get(k), k, where) for k in ToolDoc.field_names()
            if k not in ("sections", "doc_bytes", "doc_source")}  # fmt: skip
    return ToolDoc(
        name=cast(str, text["name"]),
        path=cast(str, text["path"]),
        real_path=text["real_path"],
        package=text["package"],
        man_section=text["man_section"],
        man_path=text["man_path"],
        doc_source=data["doc_source"],
        sections=raw_sections,
        doc_text=text["doc_text"] or "",
        doc_sha256=text["doc_sha256"],
        source_sha256=text["source_sha256"],
        doc_bytes=doc_bytes,
        error=text["error"],
        host=text["host"] or "",
        scanned_at=text["scanned_at"] or "",
        tcplab_version=text["tcplab_version"] or "",
        pkg_version=text["pkg_version"],
        pkg_section=text["pkg_section"],
        pkg_priority=text["pkg_priority"],
        pkg_depends=text["pkg_depends"],
        pkg_summary=text["pkg_summary"],
        dpkg_status_sha256=text["dpkg_status_sha256"],
    )


def _read_jsonl(path: Path) -> list[ToolDoc]:
    rows: list[ToolDoc] = []
    with path.open("rb") as handle:
        for lineno, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except ValueError as exc:
                raise CorpusError(f"{where}: not valid JSON ({exc}); is this a corpus?") from exc
            if not isinstance(data, dict):
                raise CorpusError(f"{where}: expected a JSON object per line")
            rows.append(_to_row(data, where))
    return rows


def read_corpus(path: Path) -> list[ToolDoc]:
    """Read a corpus file written by :func:`write_corpus`, in either format.

    Raises:
        CorpusError: the file is missing, unreadable, corrupt or not a corpus.
    """
    path = Path(path)
    if not path.is_file():
        raise CorpusError(
            f"corpus file {path} does not exist; create it with `tcplab corpus scan --out {path}`"
        )
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic != b"PAR1":
            return _read_jsonl(path)
        table = pq.read_table(path)
    except OSError as exc:
        raise CorpusError(f"cannot read corpus {path}: {exc}") from exc
    except pa.ArrowException as exc:
        raise CorpusError(f"corpus {path} is corrupt or not Parquet: {exc}") from exc
    absent = [key for key in _REQUIRED if key not in table.column_names]
    if absent:
        raise CorpusError(f"{path} is not a tcplab corpus: no column {', '.join(absent)}")
    return [_to_row(rec, f"{path} row {i}") for i, rec in enumerate(table.to_pylist(), 1)]
