"""The v3 registry: a version-1 table plus a checked node tree; version-1 files stay readable."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from tcplab.descriptor import encode
from tcplab.errors import RegistryFormatError, UsageError
from tcplab.registry import Node, Registry, Tree, write_registry, write_tree_registry


def _nodes() -> list[Node]:
    return [
        Node("git", encode("git", "MEDIUM_RISK"), "tool", payload={"k": 1}),
        Node("git push", encode("git push", "MEDIUM_RISK"), "subcommand", "git"),
        Node(
            "git#1",
            encode("git#1", "HIGH_RISK"),
            "pattern",
            "git push",
            "raise",
            0,
            {"flags": ["--force"]},
        ),
        Node("ls", encode("ls", "SAFE"), "tool"),
    ]


def test_write_and_read_a_tree(tmp_path: Path) -> None:
    path = tmp_path / "t.tcpdb"
    assert write_tree_registry(path, _nodes(), {"hello": "world"}) == 4
    with Registry(path) as reg:
        assert reg.version == 3 and reg.info()["registry_format_version"] == 3
        assert reg.lookup("git push").risk_level.name == "MEDIUM_RISK"  # O(1) lookup as in v1
        tree = Tree(reg)
        assert tree.meta == {"hello": "world"}
        i = reg.index_of("git#1")
        assert tree.path(i) == ["git", "git push", "git#1"]
        assert (tree.kind(i), tree.effect(i)) == ("pattern", "raise")
        assert tree.payload(i) == {"flags": ["--force"]}
        assert tree.parent(reg.index_of("ls")) == -1
        assert not reg.invalid_entries()


def test_version_1_files_still_open_and_have_no_tree(tmp_path: Path) -> None:
    path = tmp_path / "v1.tcpdb"
    write_registry(path, [("ls", encode("ls", "SAFE"))])
    with Registry(path) as reg:
        assert reg.version == 1 and reg.node_section() == b""
        with pytest.raises(RegistryFormatError, match="no node tree"):
            Tree(reg)


def test_bad_trees_are_refused_when_written(tmp_path: Path) -> None:
    orphan = Node("a#1", encode("a#1", "SAFE"), "pattern", "missing")
    with pytest.raises(UsageError, match="not a node"):
        write_tree_registry(tmp_path / "x.tcpdb", [orphan], {})
    upside = [Node("a", encode("a", "SAFE"), "subcommand", "b"), Node("b", encode("b", "SAFE"))]
    upside[1].kind = "pattern"
    with pytest.raises(UsageError, match="not above"):
        write_tree_registry(tmp_path / "x.tcpdb", upside, {})


def _recrc(data: bytearray) -> bytes:
    crc = zlib.crc32(bytes(data[64:]), zlib.crc32(bytes(data[:56])))
    data[56:60] = crc.to_bytes(4, "little")
    return bytes(data)


def test_damaged_node_sections_are_refused_on_open(tmp_path: Path) -> None:
    path = tmp_path / "t.tcpdb"
    write_tree_registry(path, _nodes(), {})
    good = bytearray(path.read_bytes())
    node_len = struct.unpack_from("<I", good, 60)[0]
    start = len(good) - node_len
    cases = {
        "magic": (start, b"XXXX"),
        "parent": (start + 16, struct.pack("<I", 99)),  # first record's parent out of range
        "kind": (start + 16 + 4, b"\x07"),
    }
    for what, (off, patch) in cases.items():
        bad = bytearray(good)
        bad[off : off + len(patch)] = patch
        path.write_bytes(_recrc(bad))
        with Registry(path) as reg, pytest.raises(RegistryFormatError):
            Tree(reg)
        assert what
    bad = bytearray(good)
    bad[60:64] = struct.pack("<I", len(good))  # node section longer than the file
    path.write_bytes(_recrc(bad))
    with pytest.raises(RegistryFormatError):
        Registry(path)
