"""Package metadata in the corpus: one dpkg-query, reuse when dpkg's database is unchanged."""

from __future__ import annotations

import shutil
from dataclasses import fields
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tcplab.corpus import ToolDoc, read_corpus, scan_tools, write_corpus
from tcplab.corpus._dpkg import PackageInfo, dpkg_status_sha256, package_infos, query_packages

PKG_COLUMNS = ("pkg_version", "pkg_section", "pkg_priority", "pkg_depends", "pkg_summary",
               "dpkg_status_sha256")  # fmt: skip


def test_dpkg_query_reads_real_package_records() -> None:
    infos = query_packages()
    core = infos["coreutils"]
    assert core.section == "utils" and core.priority == "required"
    assert core.depends is not None and "libc6" in core.depends.split(", ")
    assert "(" not in core.depends  # version constraints dropped
    assert core.summary


def test_scan_records_package_and_sbin(tmp_path: Path) -> None:
    d = tmp_path / "sbin"
    d.mkdir()
    for tool in ("ls", "mkfs"):
        found = shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
        assert found
        (d / tool).symlink_to(found)
    first = scan_tools([d]).by_name()
    assert first["ls"].pkg_section == "utils" and first["ls"].in_sbin
    assert first["mkfs"].package == "util-linux" and first["mkfs"].pkg_priority
    assert first["ls"].dpkg_status_sha256 == dpkg_status_sha256()
    again = scan_tools([d], previous=first)
    assert again.packages_reused
    assert again.by_name()["ls"].pkg_depends == first["ls"].pkg_depends


def test_reuse_needs_the_same_status_hash() -> None:
    prev = {"coreutils": PackageInfo("coreutils", "0", "stale", None, None, None)}
    got, reused = package_infos(["coreutils"], prev, "a" * 64, "a" * 64)
    assert reused and got["coreutils"].section == "stale"
    got, reused = package_infos(["coreutils"], prev, "a" * 64, "b" * 64)
    assert not reused and got["coreutils"].section == "utils"


def test_format_1_corpus_reads_with_null_package_columns(tmp_path: Path) -> None:
    row = ToolDoc(name="ls", path="/usr/bin/ls", real_path="/usr/bin/ls", package="coreutils",
                  man_section="1", man_path=None, doc_source="man")  # fmt: skip
    new = write_corpus([row], tmp_path / "new.parquet")
    table = pq.read_table(new).drop_columns(list(PKG_COLUMNS))
    table = table.replace_schema_metadata({"tcplab.corpus.format_version": "1"})
    old = tmp_path / "old.parquet"
    pq.write_table(table, old)
    (back,) = read_corpus(old)
    assert back == row
    assert all(getattr(back, c) is None for c in PKG_COLUMNS)
    assert set(PKG_COLUMNS) <= {f.name for f in fields(ToolDoc)}
    assert pq.read_schema(new).metadata[b"tcplab.corpus.format_version"] == b"2"
    assert pq.read_schema(new).field("pkg_section").type == pa.string()
