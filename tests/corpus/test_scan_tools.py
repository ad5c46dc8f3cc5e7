"""The scanner on real tools and real man pages of this machine (a handful, not all of PATH)."""

from __future__ import annotations

import ctypes
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from tcplab.corpus import ScanResult, ToolDoc, scan_tools
from tcplab.corpus._manpages import ManIndex
from tcplab.corpus._tools import find_owners
from tcplab.errors import CorpusError

pytestmark = pytest.mark.skipif(
    shutil.which("groff") is None
    or ManIndex().find("ls") is None
    or not Path("/usr/bin/ls").exists(),
    reason="needs groff, /usr/bin/ls and the ls man page",
)
HAS_DPKG = Path("/var/lib/dpkg/info/coreutils.list").exists()


@pytest.fixture
def tool_dir(tmp_path: Path) -> Path:
    """A PATH-like directory: two real tools, broken entries and things that are no tools."""
    d = tmp_path / "bin"
    d.mkdir()
    (d / "ls").symlink_to("/usr/bin/ls")
    (d / "cat").symlink_to("/usr/bin/cat")
    (d / "ghost").symlink_to(tmp_path / "nowhere" / "ghost")
    (d / "loop-a").symlink_to(d / "loop-b")
    (d / "loop-b").symlink_to(d / "loop-a")
    notes = d / "notes.txt"
    notes.write_text("not a tool\n")
    notes.chmod(0o644)
    (d / "subdir").mkdir()
    nodoc = d / "tcplab-test-nodoc"
    nodoc.write_text("#!/bin/sh\necho hello\n")
    nodoc.chmod(0o755)
    return d


def _rows(result: ScanResult) -> dict[str, ToolDoc]:
    return result.by_name()


def test_symlinked_tools_keep_name_path_and_real_path(tool_dir: Path) -> None:
    rows = _rows(scan_tools([tool_dir], workers=2))
    ls = rows["ls"]
    assert ls.path == str(tool_dir / "ls")
    assert ls.real_path == os.path.realpath("/usr/bin/ls")
    assert ls.doc_source == "man"
    assert ls.man_section == "1"
    assert ls.man_path is not None and "/man1/ls.1" in ls.man_path
    assert ls.error is None


def test_man_page_sections_of_ls_are_kept_apart(tool_dir: Path) -> None:
    ls = _rows(scan_tools([tool_dir]))["ls"]
    assert "list directory contents" in ls.sections["NAME"]
    assert "--all" in ls.sections.get("OPTIONS", "") + ls.sections["DESCRIPTION"]
    assert ls.sections["SYNOPSIS"].startswith("ls ")
    assert "--all" in ls.doc_text
    assert ls.doc_bytes == len(ls.doc_text.encode()) and ls.doc_sha256 and ls.source_sha256


@pytest.mark.skipif(not HAS_DPKG, reason="needs dpkg's file lists")
def test_package_is_found_through_symlinks_and_usr_merge(tool_dir: Path) -> None:
    rows = _rows(scan_tools([tool_dir]))
    assert rows["ls"].package == "coreutils"
    owners = find_owners([("/bin/ls", "/bin/ls"), ("/usr/bin/ls", None), ("/nope/x", None)])
    assert owners == {"/bin/ls": "coreutils", "/usr/bin/ls": "coreutils", "/nope/x": None}


def test_dangling_symlink_and_loop_are_recorded_with_their_reason(tool_dir: Path) -> None:
    rows = _rows(scan_tools([tool_dir]))
    assert rows["ghost"].error == "dangling symlink"
    assert rows["ghost"].doc_source == "none"
    assert rows["ghost"].real_path == str(tool_dir.parent / "nowhere" / "ghost")
    assert rows["loop-a"].error == "symlink loop"


def test_non_executables_and_directories_are_not_tools(tool_dir: Path) -> None:
    rows = _rows(scan_tools([tool_dir]))
    assert "notes.txt" not in rows and "subdir" not in rows
    assert set(rows) == {"cat", "ghost", "loop-a", "loop-b", "ls", "tcplab-test-nodoc"}


def _as_unprivileged(fn: Callable[[], object]) -> object:
    """Run ``fn`` in a forked child that entered a new user namespace.

    Inside it the process is an unmapped user, so root-owned files with mode 0111 are really
    unreadable (root outside would bypass the permission check). Returns ``fn``'s pickled result.
    """
    if os.geteuid() != 0:
        return fn()
    libc = ctypes.CDLL(None, use_errno=True)
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: one thread, so unshare(CLONE_NEWUSER) is allowed
        try:
            if libc.unshare(0x10000000) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUSER) failed")
            payload = pickle.dumps(("ok", fn()))
        except BaseException as exc:  # report any failure to the parent
            payload = pickle.dumps(("error", repr(exc)))
        os.write(write_fd, payload)
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    assert status == "ok", value
    return value


def test_unreadable_executable_is_recorded_not_fatal(tool_dir: Path) -> None:
    locked = tool_dir / "locked"
    locked.write_text("#!/bin/sh\n")
    locked.chmod(0o111)
    rows = _as_unprivileged(lambda: _rows(scan_tools([tool_dir])))
    assert rows["locked"].error == "unreadable"  # type: ignore[index]
    assert rows["ls"].doc_source == "man"  # type: ignore[index]


def test_tool_without_man_page_has_doc_source_none_and_is_not_run(tool_dir: Path) -> None:
    row = _rows(scan_tools([tool_dir]))["tcplab-test-nodoc"]
    assert (row.doc_source, row.doc_text, row.sections, row.error) == ("none", "", {}, None)
    assert row.man_path is None and row.doc_sha256 is None


def test_first_directory_wins_like_the_shell(tool_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "ls").symlink_to("/usr/bin/cat")
    rows = _rows(scan_tools([other, tool_dir]))
    assert rows["ls"].path == str(other / "ls")
    assert rows["ls"].real_path == os.path.realpath("/usr/bin/cat")


def test_missing_path_dir_raises_a_helpful_corpus_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        scan_tools([tmp_path / "missing"])


def test_rescan_reuses_every_unchanged_page(tool_dir: Path) -> None:
    first = scan_tools([tool_dir])
    assert first.n_reused == 0 and first.n_rendered == 2 and first.n_man == 2
    second = scan_tools([tool_dir], previous=first.by_name())
    assert second.n_reused == second.n_man == 2
    assert second.n_rendered == 0
    for name in ("ls", "cat"):
        assert second.by_name()[name].doc_text == first.by_name()[name].doc_text


def test_reuse_is_keyed_by_source_sha256(tool_dir: Path) -> None:
    first = scan_tools([tool_dir]).by_name()
    stale = {
        "ls": replace(first["ls"], doc_text="reused text\n"),
        "cat": replace(first["cat"], source_sha256="0" * 64),
    }
    rows = scan_tools([tool_dir], previous=stale)
    assert rows.n_reused == 1 and rows.n_rendered == 1
    assert rows.by_name()["ls"].doc_text == "reused text\n"
    assert rows.by_name()["cat"].doc_text == first["cat"].doc_text


def test_progress_reports_every_tool_once(tool_dir: Path) -> None:
    calls: list[tuple[int, int]] = []
    result = scan_tools([tool_dir], progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, result.n_tools) and calls[-1] == (result.n_tools, result.n_tools)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_scan_result_counts_and_row_metadata(tool_dir: Path) -> None:
    result = scan_tools([tool_dir])
    assert (result.n_tools, result.n_man, result.n_help, result.n_errors) == (6, 2, 0, 3)
    assert result.seconds > 0
    row = result.rows[0]
    assert [r.name for r in result.rows] == sorted(r.name for r in result.rows)
    assert row.host and row.tcplab_version and row.scanned_at.endswith("+00:00")
