"""Corpus files: Parquet and JSON Lines round trips, atomic writes, clear errors."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tcplab.corpus import ToolDoc, check_writable, infer_format, read_corpus, write_corpus
from tcplab.errors import CorpusError

ROWS = [
    ToolDoc(
        name="ls", path="/usr/bin/ls", real_path="/usr/bin/ls", package="coreutils",
        man_section="1", man_path="/usr/share/man/man1/ls.1.gz", doc_source="man",
        sections={"NAME": "ls - list directory contents", "OPTIONS": "-a, --all\n  Zürich ✓"},
        doc_text="NAME\n  ls - list directory contents\n", doc_sha256="ab" * 32,
        source_sha256="cd" * 32, doc_bytes=31, error=None, host="h",
        scanned_at="2024-01-01T00:00:00+00:00", tcplab_version="0.1.0",
    ),
    ToolDoc(
        name="ghost", path="/opt/bin/ghost", real_path="/nowhere", package=None,
        man_section=None, man_path=None, doc_source="none", error="dangling symlink",
    ),
]  # fmt: skip


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_round_trip_keeps_every_field(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"corpus.{fmt}"
    write_corpus(ROWS, out, fmt)  # type: ignore[arg-type]
    assert read_corpus(out) == ROWS


def test_parquet_sections_column_is_a_string_map(tmp_path: Path) -> None:
    out = write_corpus(ROWS, tmp_path / "c.parquet")
    schema = pq.read_schema(out)
    assert schema.field("sections").type == pa.map_(pa.string(), pa.string())
    assert schema.field("doc_bytes").type == pa.int64()


def test_format_is_detected_from_content_not_name(tmp_path: Path) -> None:
    out = tmp_path / "looks-like.parquet"
    write_corpus(ROWS, out, "jsonl")
    assert read_corpus(out) == ROWS
    assert infer_format(Path("x.jsonl")) == "jsonl" and infer_format(Path("x.pq")) == "parquet"


def test_write_replaces_atomically_and_leaves_no_temp_files(tmp_path: Path) -> None:
    out = tmp_path / "deep" / "dir" / "c.parquet"
    write_corpus(ROWS, out)
    write_corpus(ROWS[:1], out)
    assert read_corpus(out) == ROWS[:1]
    assert [p.name for p in out.parent.iterdir()] == ["c.parquet"]


def test_unwritable_output_raises_corpus_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CorpusError, match="cannot write"):
        write_corpus(ROWS, blocker / "c.parquet")
    with pytest.raises(CorpusError, match="not a writable directory"):
        check_writable(blocker / "c.parquet")
    with pytest.raises(CorpusError, match="is a directory"):
        check_writable(tmp_path)


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown corpus format"):
        write_corpus(ROWS, tmp_path / "c.csv", "csv")  # type: ignore[arg-type]


def test_missing_corpus_names_the_command_that_creates_it(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="tcplab corpus scan --out"):
        read_corpus(tmp_path / "absent.parquet")


def test_corrupt_parquet_raises_corpus_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(CorpusError, match="corrupt"):
        read_corpus(bad)


def test_garbage_jsonl_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    write_corpus(ROWS, bad, "jsonl")
    bad.write_text(bad.read_text() + "{not json\n")
    with pytest.raises(CorpusError, match=r"bad\.jsonl:3: not valid JSON"):
        read_corpus(bad)


def test_rows_that_are_not_corpus_rows_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "other.jsonl"
    bad.write_text('{"name": "ls", "path": "/bin/ls", "doc_source": "magic"}\n')
    with pytest.raises(CorpusError, match="doc_source 'magic'"):
        read_corpus(bad)
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(CorpusError, match="missing name, path, doc_source"):
        read_corpus(bad)
    table = pa.table({"x": [1]})
    pq.write_table(table, tmp_path / "other.parquet")
    with pytest.raises(CorpusError, match="not a tcplab corpus"):
        read_corpus(tmp_path / "other.parquet")
