"""The invocation knowledge compiled into a v3 registry (tool → subcommand → pattern nodes).

:func:`build_nodes` turns the knowledge YAML (plus, optionally, a tool registry) into v3 nodes;
:class:`CompiledKnowledge` reads them back lazily: a tool's rules are compiled the first time
the tool is seen, so a per-call hook reads no YAML and compiles only the regexes it needs. The
shipped ``invocations_v1.tcpdb`` is built from the shipped YAML (``tests/check`` pins it to a
rebuild); a YAML whose checksum differs from the one recorded in the file is compiled instead.
"""

from __future__ import annotations

import os
import re
import zlib
from typing import TYPE_CHECKING, Any

from tcplab.check._knowledge import KNOWLEDGE_VERSION, ToolSpec, check_keys
from tcplab.descriptor import RiskLevel, encode, unpack
from tcplab.errors import UsageError

if TYPE_CHECKING:
    from tcplab.descriptor import Descriptor
    from tcplab.registry import Node, Registry, Tree

__all__ = ["CachedLevels", "CompiledKnowledge", "RegistryView", "build_nodes", "knowledge_meta"]

_CAP_FIELDS = ("capabilities",)


def knowledge_meta(yaml_text: str, source: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The v3 file's metadata: knowledge version, system paths, source name and checksum."""
    return {
        "knowledge_version": int(raw.get("version", 0)),
        "system_paths": str(raw.get("system_paths", "^/(etc|boot|usr|bin|sbin|lib)(/|$)")),
        "source": source,
        "source_crc32": zlib.crc32(yaml_text.encode("utf-8")),
    }


def _desc(name: str, raw: dict[str, Any]) -> bytes:
    caps = [str(c) for c in raw.get("capabilities", ())]
    return encode(name, str(raw.get("level", "UNKNOWN")), caps)


def _sub_levels(rules: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per subcommand, the first ``set`` rule that has no other condition (its node's level)."""
    out: dict[str, dict[str, Any]] = {}
    for rule in rules:
        if rule.get("effect") == "set" and set(rule) <= {
            "effect",
            "sub",
            "level",
            "why",
            *_CAP_FIELDS,
        }:
            for sub in rule.get("sub", ()):
                out.setdefault(str(sub), rule)
    return out


def _tool_nodes(name: str, raw: dict[str, Any], source: str, defaults: list[str]) -> list[Node]:
    from tcplab.registry import Node

    rules = list(raw.get("rules") or ())
    subs = _sub_levels(rules)
    for rule in rules:
        for sub in rule.get("sub", ()):
            subs.setdefault(str(sub), {})
    names = [f"{name}#{i + 1}" for i in range(len(rules))]
    head = {k: v for k, v in raw.items() if k != "rules"}
    head.update(rules=defaults + names, source=f"{source}: tools.{name}", knowledge=True)
    nodes = [Node(name, _desc(name, raw), "tool", None, payload=head)]
    for sub, rule in sorted(subs.items()):
        key = f"{name} {sub}"
        own = [n for n, r in zip(names, rules, strict=True) if sub in r.get("sub", ())]
        payload = {"rules": own, "source": f"{source}: tools.{name} (sub {sub})"}
        nodes.append(Node(key, _desc(key, rule), "subcommand", name, payload=payload))
    for i, (rule_name, rule) in enumerate(zip(names, rules, strict=True)):
        sub = rule.get("sub", ())
        parent = f"{name} {sub[0]}" if len(sub) == 1 else name
        # a generated rule names its own origin (tcplab.check._generate); a YAML rule its place
        payload = dict(rule, source=rule.get("source") or f"{source}: tools.{name}.rules[{i}]")
        effect = str(rule.get("effect", "raise"))
        nodes.append(Node(rule_name, _desc(rule_name, rule), "pattern", parent, effect, i, payload))
    return nodes


def build_nodes(raw: dict[str, Any], source: str, registry: Registry | None = None) -> list[Node]:
    """The v3 nodes of a knowledge file (``raw``: the parsed YAML), merged with ``registry``.

    A registry entry keeps its descriptor byte for byte (``"registry": true`` in its payload);
    a knowledge tool or subcommand of the same name keeps its knowledge payload on that node.

    Raises:
        UsageError: a registry name clashes with a pattern node name (``TOOL#N``).
    """
    from tcplab.registry import Node

    check_keys(raw.get("tools") or {}, raw.get("defaults") or (), source)
    defaults = [dict(r) for r in raw.get("defaults") or ()]
    default_names = [f"defaults#{i + 1}" for i in range(len(defaults))]
    nodes = [
        Node(
            n,
            _desc(n, r),
            "pattern",
            None,
            str(r.get("effect", "raise")),
            i,
            dict(r, source=f"{source}: defaults[{i}]"),
        )
        for i, (n, r) in enumerate(zip(default_names, defaults, strict=True))
    ]
    for name, spec in (raw.get("tools") or {}).items():
        nodes.extend(_tool_nodes(str(name), dict(spec or {}), source, default_names))
    if registry is not None:
        _merge_registry(nodes, registry)
    return nodes


def _merge_registry(nodes: list[Node], registry: Registry) -> None:
    from tcplab.registry import Node

    by_name = {n.name: n for n in nodes}
    where = f"registry {registry.path.name}"
    for key, raw in registry.items():
        node = by_name.get(key)
        if node is not None and node.kind == "pattern":
            raise UsageError(f"registry entry {key!r} clashes with a knowledge pattern node")
        if node is not None:
            node.descriptor = raw
            node.payload.update(registry=True, registry_source=where)
            continue
        tool = key.split(" ", 1)[0]
        parent = tool if " " in key and tool in by_name and by_name[tool].kind == "tool" else None
        kind = "subcommand" if " " in key else "tool"
        node = Node(key, raw, kind, parent, payload={"registry": True, "source": where})
        by_name[key] = node
        nodes.append(node)


class CachedLevels:
    """``level(key)`` → a registry entry's ``(risk level, capability bits)`` or None, cached per
    key; subclasses say where entries are found (:meth:`_lookup`: the descriptor, or None)."""

    __slots__ = ("_cache",)

    def __init__(self) -> None:
        self._cache: dict[str, tuple[RiskLevel, int] | None] = {}

    def level(self, key: str) -> tuple[RiskLevel, int] | None:
        """``(risk level, capability bits)`` of registry entry ``key``, or None."""
        try:
            return self._cache[key]
        except KeyError:
            pass
        d = self._lookup(key)
        found = None if d is None else (d.risk_level, d.flags & 0xFC0)
        self._cache[key] = found
        return found

    def _lookup(self, key: str) -> Descriptor | None:
        raise NotImplementedError


class RegistryView(CachedLevels):
    """Registry descriptors of a v3 file (the nodes that came from a tool registry)."""

    __slots__ = ("tree",)

    def __init__(self, tree: Tree) -> None:
        super().__init__()
        self.tree = tree

    def _lookup(self, key: str) -> Descriptor | None:
        reg = self.tree.registry
        i = reg.index_of(key)
        if i >= 0 and self.tree.payload(i).get("registry"):
            return unpack(reg.bytes_at(i))
        return None


class _Tools:
    """``get(name)`` → the tool's :class:`ToolSpec`, compiled from its nodes on first use."""

    __slots__ = ("_cache", "_system", "_tree")

    def __init__(self, tree: Tree, system: str) -> None:
        self._tree, self._system = tree, system
        self._cache: dict[str, ToolSpec | None] = {}

    def get(self, name: str) -> ToolSpec | None:
        try:
            return self._cache[name]
        except KeyError:
            pass
        tree, found = self._tree, None
        i = tree.registry.index_of(name)
        if i >= 0 and tree.kind(i) == "tool":
            head = tree.payload(i)
            if head.get("knowledge"):
                found = self._spec(name, head)
        self._cache[name] = found
        return found

    def _spec(self, name: str, head: dict[str, Any]) -> ToolSpec:
        from tcplab.check._rules import Rule

        reg, rules = self._tree.registry, []
        for rule_name in head.get("rules", ()):
            j = reg.index_of(str(rule_name))
            if j < 0 or self._tree.kind(j) != "pattern":
                raise UsageError(f"{reg.path}: tool {name!r} names a missing pattern {rule_name!r}")
            rules.append(Rule(self._tree.payload(j), str(rule_name), self._system))
        raw = {k: v for k, v in head.items() if k != "rules"}
        return ToolSpec(name, raw, self._system, rules)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None


class CompiledKnowledge:
    """Knowledge read from a v3 registry; the engine's ``Knowledge`` interface, lazily."""

    __slots__ = ("crc", "source", "system", "tools", "tree", "version")

    def __init__(self, tree: Tree) -> None:
        meta = tree.meta
        self.tree = tree
        self.version = int(meta.get("knowledge_version", 0))
        if self.version != KNOWLEDGE_VERSION:
            raise UsageError(f"{tree.registry.path}: knowledge version {self.version}")
        system = str(meta["system_paths"])
        self.system = re.compile(system)
        self.source = str(meta.get("source", os.fspath(tree.registry.path)))
        self.crc = int(meta.get("source_crc32", -1))
        self.tools = _Tools(tree, system)

    def explain(self, name: str) -> dict[str, Any] | None:
        """Where node ``name`` came from: its path in the tree, kind, level and source."""
        reg = self.tree.registry
        i = reg.index_of(name)
        if i < 0:
            return None
        payload = self.tree.payload(i)
        return {
            "node": name,
            "path": self.tree.path(i),
            "kind": self.tree.kind(i),
            "effect": self.tree.effect(i),
            "risk_level": unpack(reg.bytes_at(i)).risk_level.name,
            "source": payload.get("registry_source") or payload.get("source", ""),
            "also": payload.get("source", "") if payload.get("registry_source") else "",
        }
