"""Man page lookup, source loading (.gz, .so, symlinks), rendering and section splitting."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from tcplab.corpus import clean_text, scan_tools, split_sections
from tcplab.corpus._manpages import ManIndex, ManPageError, groff_path, load_source, render_source

needs_groff = pytest.mark.skipif(shutil.which("groff") is None, reason="needs groff")

PAGE = b""".TH REALTOOL 1 "2024" "tcplab tests" "User Commands"
.SH NAME
realtool \\- a tool that only exists in this test
.SH SYNOPSIS
.B realtool
[\\fB\\-\\-all\\fR]
.SH DESCRIPTION
Does nothing at all.
.SH OPTIONS
.TP
\\fB\\-a\\fR, \\fB\\-\\-all\\fR
do not ignore anything
.SH "SEE ALSO"
.BR ls (1)
"""


@pytest.fixture
def man_root(tmp_path: Path) -> Path:
    """A man root with a gzipped page, a .so alias, a symlinked page and a broken include."""
    root = tmp_path / "man"
    (root / "man1").mkdir(parents=True)
    (root / "man8").mkdir()
    (root / "man1" / "realtool.1.gz").write_bytes(gzip.compress(PAGE))
    (root / "man1" / "alias.1").write_bytes(b".so man1/realtool.1\n")
    (root / "man1" / "linked.1.gz").symlink_to("realtool.1.gz")
    (root / "man1" / "broken.1").write_bytes(b".so man1/missing.1\n")
    (root / "man8" / "realtool.8").write_bytes(b".TH X 8\n.SH NAME\nwrong section\n")
    (root / "man1" / "realtool.1ssl").write_bytes(b".TH X 1ssl\n.SH NAME\nwrong subsection\n")
    return root


def test_index_prefers_section_1_then_exact_section(man_root: Path) -> None:
    page = ManIndex([man_root]).find("realtool")
    assert page is not None
    assert (page.section, page.path.name) == ("1", "realtool.1.gz")
    assert ManIndex([man_root]).find("nothing-here") is None


def test_gz_so_include_and_symlinked_page_give_the_same_source(man_root: Path) -> None:
    index = ManIndex([man_root])
    sources = {}
    for name in ("realtool", "alias", "linked"):
        page = index.find(name)
        assert page is not None
        sources[name] = load_source(page)
    assert sources["realtool"] == PAGE
    assert b"a tool that only exists in this test" in sources["alias"]
    assert sources["linked"] == PAGE


def test_missing_so_target_is_a_reason_not_a_crash(man_root: Path) -> None:
    broken = ManIndex([man_root]).find("broken")
    assert broken is not None
    with pytest.raises(ManPageError, match=r"man page could not be rendered: \.so target"):
        load_source(broken)


@needs_groff
def test_rendered_page_has_plain_ascii_options(man_root: Path) -> None:
    text = render_source(PAGE, groff_path())
    assert "\x08" not in text and "\x1b" not in text and "\u2010" not in text
    sections = split_sections(text)
    assert list(sections)[:4] == ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS"]
    assert sections["NAME"] == "realtool - a tool that only exists in this test"
    assert sections["OPTIONS"].startswith("-a, --all")
    assert sections["SEE ALSO"] == "ls(1)"


@needs_groff
def test_scan_records_unrenderable_page_and_keeps_going(
    man_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MANPATH", str(man_root))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("broken", "alias", "realtool"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    result = scan_tools([bin_dir])
    rows = result.by_name()
    assert rows["broken"].doc_source == "none"
    assert rows["broken"].error is not None
    assert rows["broken"].error.startswith("man page could not be rendered")
    assert rows["alias"].doc_source == rows["realtool"].doc_source == "man"
    assert rows["alias"].doc_text == rows["realtool"].doc_text
    assert result.n_rendered == 1  # identical sources are rendered once


@needs_groff
def test_real_ls_page_sections() -> None:
    page = ManIndex().find("ls")
    if page is None:
        pytest.skip("the ls man page is not installed")
    sections = split_sections(render_source(load_source(page), groff_path()))
    assert "list directory contents" in sections["NAME"]
    assert "--all" in sections.get("OPTIONS", "") + sections["DESCRIPTION"]


def test_clean_text_removes_overstrike_ansi_and_unicode_dashes() -> None:
    raw = (
        "N\bNA\bAM\bME\n  _\bf_\bi_\bl_\be \x1b[1mbold\x1b[0m "
        "\u2010\u2010all \u2212x\r\n\n\n\nend  \n"
    )
    assert clean_text(raw) == "NAME\n  file bold --all -x\n\nend\n"
    assert clean_text("") == ""


def test_split_sections_drops_running_header_and_footer() -> None:
    text = (
        "FOO(1)        General Commands        FOO(1)\n\n"
        "NAME\n       foo - bar\n\n"
        "Options\n       -x     do x\n\n              more\n"
        "OPTIONS\n       -y     do y\n\n"
        "foo 1.0        2024        FOO(1)\n"
    )
    assert split_sections(text) == {
        "NAME": "foo - bar",
        "OPTIONS": "-x     do x\n\n       more\n\n-y     do y",
    }


def test_split_sections_of_text_without_headings_is_empty() -> None:
    assert split_sections("   just some indented text\n") == {}
    assert split_sections("") == {}
