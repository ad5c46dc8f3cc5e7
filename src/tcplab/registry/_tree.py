"""The v3 registry: tool → subcommand → flag/argument-pattern nodes, each a 24-byte descriptor.

A version-3 ``.tcpdb`` file is a version-1 file (the same O(1) name → descriptor hash table,
every node is an entry keyed by its name) with a **node section** appended after the name
blob; header field 60 holds its length (``docs/format.md`` §3). Little-endian::

    0   4s  b"TCPN"
    4   u32 node count (= the file's entry count N)
    8   u32 length M of the file's metadata (a JSON object at payload offset 0)
    12  u32 payload blob length P
    16  N × 16-byte records, in entry (name) order:
          u32 parent (entry index + 1; 0 = top level), u8 kind (0 tool, 1 subcommand,
          2 flag/argument pattern), u8 effect (0 none, 1 set, 2 raise, 3 final),
          u16 order (a pattern's position in its tool's rule list), u32 payload offset,
          u32 payload length
    then the payload blob: UTF-8 JSON objects (conditions, reason text, provenance)

Opening checks the section like the rest of the file (it is untrusted): sizes, kinds, effects,
payload bounds, and that a parent is a node of a lower kind (so the tree has no cycles and is
at most three levels deep). Payloads are parsed only when a node is read (:meth:`Tree.payload`).
"""

from __future__ import annotations

import json
import struct

from tcplab.errors import RegistryFormatError, UsageError
from tcplab.registry._file import (
    Registry,
    _encode_entries,
    _file_bytes,
    write_bytes_atomic,
)
from tcplab.registry._layout import REGISTRY_TREE_VERSION

TYPE_CHECKING = False  # not `typing`: the per-decision hook imports this module
if TYPE_CHECKING:
    import os
    from collections.abc import Iterable
    from typing import Any

__all__ = ["EFFECTS", "KINDS", "Node", "Tree", "write_tree_registry"]

KINDS = ("tool", "subcommand", "pattern")
EFFECTS = ("", "set", "raise", "final")
_HEAD = struct.Struct("<4sIII")
_REC = struct.Struct("<IBBHII")
_MAGIC = b"TCPN"


class Node:
    """One node to write: its name (the lookup key), descriptor, place in the tree, payload."""

    __slots__ = ("descriptor", "effect", "kind", "name", "order", "parent", "payload")

    def __init__(
        self,
        name: str,
        descriptor: bytes,
        kind: str = "tool",
        parent: str | None = None,
        effect: str = "",
        order: int = 0,
        payload: dict[str, Any] | None = None,
    ) -> None:
        if kind not in KINDS or effect not in EFFECTS:
            raise UsageError(f"node {name!r}: bad kind {kind!r} or effect {effect!r}")
        self.name, self.descriptor, self.kind, self.parent = name, descriptor, kind, parent
        self.effect, self.order, self.payload = effect, order, payload or {}


def _section(nodes: list[Node], order: list[bytes], meta: dict[str, Any]) -> bytes:
    index = {name: i for i, name in enumerate(order)}
    by_name = {n.name.encode("utf-8"): n for n in nodes}
    blob = bytearray(json.dumps(meta, sort_keys=True, separators=(",", ":")).encode())
    meta_len = len(blob)
    recs = []
    for key in order:
        node = by_name[key]
        parent = 0
        if node.parent is not None:
            pidx = index.get(node.parent.encode("utf-8"))
            if pidx is None:
                raise UsageError(f"node {node.name!r}: parent {node.parent!r} is not a node")
            if KINDS.index(by_name[order[pidx]].kind) >= KINDS.index(node.kind):
                raise UsageError(f"node {node.name!r}: parent {node.parent!r} is not above it")
            parent = pidx + 1
        data = json.dumps(node.payload, sort_keys=True, separators=(",", ":")).encode()
        recs.append(
            _REC.pack(
                parent,
                KINDS.index(node.kind),
                EFFECTS.index(node.effect),
                node.order,
                len(blob),
                len(data),
            )
        )
        blob += data
    head = _HEAD.pack(_MAGIC, len(order), meta_len, len(blob))
    return head + b"".join(recs) + bytes(blob)


def tree_bytes(nodes: Iterable[Node], meta: dict[str, Any]) -> bytes:
    """The bytes of a version-3 registry holding ``nodes`` and the file metadata ``meta``."""
    nodes = list(nodes)
    items = _encode_entries((n.name, n.descriptor) for n in nodes)
    tail = _section(nodes, [name for name, _d in items], meta)
    return _file_bytes(items, REGISTRY_TREE_VERSION, tail)


def write_tree_registry(
    path: str | os.PathLike[str], nodes: Iterable[Node], meta: dict[str, Any]
) -> int:
    """Write a version-3 registry atomically; return the node count.

    Raises:
        UsageError: duplicate or empty names, a descriptor not 24 bytes long, a parent that
            is missing or not of a higher kind.
        RegistryError: the file cannot be written.
    """
    return write_bytes_atomic(path, tree_bytes(nodes, meta))


class Tree:
    """The node section of an open version-3 :class:`~tcplab.registry.Registry`, checked.

    Raises:
        RegistryFormatError: the registry is not version 3 or its node section is inconsistent.
    """

    __slots__ = ("_blob", "_cache", "meta", "records", "registry")

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        if registry.version != REGISTRY_TREE_VERSION:
            raise self._bad(f"registry format version {registry.version} has no node tree")
        raw = registry.node_section()
        n = len(registry)
        if len(raw) < _HEAD.size:
            raise self._bad("node section truncated")
        magic, count, meta_len, blob_len = _HEAD.unpack_from(raw)
        start = _HEAD.size + count * _REC.size
        if magic != _MAGIC or count != n or start + blob_len != len(raw) or meta_len > blob_len:
            raise self._bad("node section header does not match the file")
        self.records = list(_REC.iter_unpack(raw[_HEAD.size : start]))
        self._blob = raw[start:]
        for i, (parent, kind, effect, _o, off, length) in enumerate(self.records):
            if kind >= len(KINDS) or effect >= len(EFFECTS) or off + length > blob_len:
                raise self._bad(f"node {i}: bad kind, effect or payload bounds")
            if parent and (parent > n or self.records[parent - 1][1] >= kind):
                raise self._bad(f"node {i}: parent {parent - 1} is not a node above it")
        self.meta = self._json(0, meta_len, "metadata")
        self._cache: dict[int, dict[str, Any]] = {}

    def _bad(self, what: str) -> RegistryFormatError:
        return RegistryFormatError(f"{self.registry.path}: not a usable v3 registry: {what}")

    def _json(self, off: int, length: int, what: str) -> dict[str, Any]:
        try:
            value = json.loads(self._blob[off : off + length].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise self._bad(f"{what}: payload is not JSON ({exc})") from None
        if not isinstance(value, dict):
            raise self._bad(f"{what}: payload is not a JSON object")
        return value

    def kind(self, i: int) -> str:
        """``tool``, ``subcommand`` or ``pattern``."""
        return KINDS[self.records[i][1]]

    def effect(self, i: int) -> str:
        """A pattern's effect (``set``, ``raise``, ``final``); empty for tools and subcommands."""
        return EFFECTS[self.records[i][2]]

    def parent(self, i: int) -> int:
        """Entry index of the parent node, or -1 at the top level."""
        return int(self.records[i][0]) - 1

    def payload(self, i: int) -> dict[str, Any]:
        """The node's JSON payload (parsed once; callers must not modify it)."""
        found = self._cache.get(i)
        if found is None:
            _p, _k, _e, _o, off, length = self.records[i]
            found = self._cache[i] = self._json(off, length, f"node {i}")
        return found

    def path(self, i: int) -> list[str]:
        """Names from the top-level node down to node ``i`` (at most three)."""
        out = [self.registry.name_at(i)]
        while (i := self.parent(i)) >= 0:
            out.append(self.registry.name_at(i))
        return out[::-1]
