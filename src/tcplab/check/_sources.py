"""Where a check's knowledge and registry descriptors come from.

* A **v3 registry** (``--registry FILE`` or ``TCPLAB_HOME/registry/tools.tcpdb`` of format
  version 3, built by :func:`tcplab.check.build_registry` from the knowledge YAML and a tool
  registry) holds both: its tool/subcommand/pattern nodes are the knowledge, its nodes marked
  ``registry`` the tool descriptors.
* A **v2 registry** (format version 1, one descriptor per name) gives the tool descriptors; the
  knowledge then comes from the shipped compiled ``invocations_v1.tcpdb`` (or, if that file is
  missing, damaged or older than the YAML next to it, from the YAML itself).
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tcplab.check._compiled import CachedLevels, CompiledKnowledge, RegistryView
from tcplab.check._knowledge import KNOWLEDGE_VERSION, Knowledge, load_knowledge
from tcplab.errors import RegistryError, TcplabError

if TYPE_CHECKING:
    from tcplab.descriptor import Descriptor
    from tcplab.registry import Registry

__all__ = [
    "SHIPPED_NAME",
    "Sources",
    "build_registry",
    "default_registry_path",
    "explain_rule",
    "forget_default",
    "resolve",
    "shipped_knowledge",
    "shipped_paths",
]

SHIPPED_NAME = f"invocations_v{KNOWLEDGE_VERSION}"
_REGISTRIES: dict[tuple[str, int], Registry] = {}
_SOURCES: dict[int, Sources] = {}
_DEFAULT_PATHS: dict[tuple[str | None, str | None], str] = {}
_SHIPPED: list[CompiledKnowledge | Knowledge] = []
_DEFAULT: list[Any] = []  # [environment, time checked, Sources] of the default registry
_RECHECK_S = 1.0
# os.environ's own bytes mapping on POSIX (what os.environ.get reads after encoding the key
# and before decoding the value): the per-check look at the environment is two dict lookups
_ENV_DATA: dict[bytes, bytes] | None = vars(os.environ).get("_data") if os.name == "posix" else None


class _V2View(CachedLevels):
    """Registry descriptors of a v2 (format version 1) registry, cached per key."""

    __slots__ = ("registry",)

    def __init__(self, registry: Registry) -> None:
        super().__init__()
        self.registry = registry

    def _lookup(self, key: str) -> Descriptor | None:
        return self.registry.lookup(key) if key in self.registry else None


class Sources:
    """The knowledge, the registry view (``level(key)``) and the registry path of a check."""

    __slots__ = ("knowledge", "path", "registry", "view")

    def __init__(
        self, knowledge: CompiledKnowledge | Knowledge, view: Any, registry: Registry | None
    ) -> None:
        self.knowledge, self.view, self.registry = knowledge, view, registry
        self.path = None if registry is None else str(registry.path)


def shipped_paths() -> tuple[Path, Path]:
    """The shipped knowledge YAML and its compiled v3 registry (next to each other)."""
    base = Path(__file__).resolve().parent.parent / "data" / "invocations"
    return base / f"{SHIPPED_NAME}.yaml", base / f"{SHIPPED_NAME}.tcpdb"


def shipped_knowledge() -> CompiledKnowledge | Knowledge:
    """The shipped knowledge, from the compiled file when it matches the YAML (once per process).

    The files are found next to the package (a wheel installs them as plain files; this avoids
    importing :mod:`importlib.resources` on the hook's path); without them, or when the
    compiled file is stale or unreadable, the YAML is compiled through :func:`load_knowledge`.
    """
    if _SHIPPED:
        return _SHIPPED[0]
    from tcplab.registry import Registry, Tree

    yaml_path, tcpdb = shipped_paths()
    found: CompiledKnowledge | Knowledge
    try:
        crc = zlib.crc32(yaml_path.read_bytes())
        compiled = CompiledKnowledge(Tree(Registry(tcpdb)))
        found = compiled if compiled.crc == crc else load_knowledge()
    except (OSError, TcplabError):
        found = load_knowledge()
    _SHIPPED.append(found)
    return found


def default_registry_path() -> Path:
    """``TCPLAB_HOME/registry/tools.tcpdb`` (TCPLAB_HOME defaults to the tcplab data dir)."""
    home = os.environ.get("TCPLAB_HOME")
    if not home:  # tcplab.config.default_home, without importing pydantic-settings
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        home = str(Path(base) / "tcplab")
    return Path(home) / "registry" / "tools.tcpdb"


def _default_path() -> str:
    env = (os.environ.get("TCPLAB_HOME"), os.environ.get("XDG_DATA_HOME"))
    found = _DEFAULT_PATHS.get(env)
    if found is None:
        found = _DEFAULT_PATHS[env] = str(default_registry_path())
    return found


def _open_registry(registry: Registry | str | os.PathLike[str] | None) -> Registry | None:
    """The registry to use; files are opened once per (path, mtime) and kept."""
    path = _default_path() if registry is None else registry
    if not isinstance(path, str | os.PathLike):
        return path  # a Registry
    try:
        key = (os.fspath(path), os.stat(path).st_mtime_ns)
    except OSError as exc:
        if registry is not None:
            raise RegistryError(f"cannot open registry {path}: {exc.strerror or exc}") from exc
        return None
    found = _REGISTRIES.get(key)
    if found is None:
        from tcplab.registry import Registry

        found = _REGISTRIES[key] = Registry(path)
    return found


def resolve(registry: Registry | str | os.PathLike[str] | None) -> Sources:
    """The sources of a check with ``registry`` (see the module docstring).

    The default registry file is looked at (``stat``) at most once per second per environment:
    a file created or replaced takes effect within a second.
    """
    if registry is not None:
        return _resolve(registry)
    data = _ENV_DATA
    env = (
        (data.get(b"TCPLAB_HOME"), data.get(b"XDG_DATA_HOME"))
        if data is not None
        else (os.environ.get("TCPLAB_HOME"), os.environ.get("XDG_DATA_HOME"))
    )
    now = time.monotonic()
    if _DEFAULT and _DEFAULT[0] == env and now - _DEFAULT[1] < _RECHECK_S:
        return _DEFAULT[2]  # type: ignore[no-any-return]
    found = _resolve(None)
    _DEFAULT[:] = [env, now, found]
    return found


def forget_default() -> None:
    """Look at the default registry file again on the next check."""
    _DEFAULT.clear()


def _resolve(registry: Registry | str | os.PathLike[str] | None) -> Sources:
    reg = _open_registry(registry)
    found = _SOURCES.get(id(reg))
    if found is not None and found.registry is reg:
        return found
    if reg is None:
        found = Sources(shipped_knowledge(), None, None)
    elif reg.version == 3:
        from tcplab.registry import Tree

        tree = Tree(reg)
        found = Sources(CompiledKnowledge(tree), RegistryView(tree), reg)
    else:
        found = Sources(shipped_knowledge(), _V2View(reg), reg)
    if len(_SOURCES) >= 64:
        _SOURCES.clear()
    _SOURCES[id(reg)] = found
    return found


def build_registry(
    out: str | os.PathLike[str],
    registry: Registry | str | os.PathLike[str] | None = None,
    generated: Mapping[str, list[dict[str, Any]]] | None = None,
) -> int:
    """Write a v3 registry: the shipped knowledge YAML merged with ``registry`` (v2, optional).

    ``generated``: extra rules per tool (:func:`tcplab.check.generate_flag_rules`), appended
    after the tool's own rules, for tools the knowledge has; each keeps its ``source``, which
    ``--explain`` shows. Returns the node count.
    ``tcplab check --build-registry OUT [--registry tools.tcpdb]``.

    Raises:
        RegistryError: ``registry`` cannot be opened or ``out`` cannot be written.
        UsageError: a registry name clashes with a knowledge pattern node.
    """
    import yaml

    from tcplab.check._compiled import build_nodes, knowledge_meta
    from tcplab.registry import Registry, write_tree_registry

    yaml_path, _ = shipped_paths()
    text = yaml_path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    for tool, rules in (generated or {}).items():
        spec = (raw.get("tools") or {}).get(tool)
        if spec is not None:
            spec["rules"] = [*(spec.get("rules") or ()), *rules]
    source = f"tcplab/data/invocations/{yaml_path.name}"
    reg = Registry(registry) if isinstance(registry, str | os.PathLike) else registry
    nodes = build_nodes(raw, source, reg)
    meta = knowledge_meta(text, source, raw)
    if generated:  # not the shipped YAML any more: never taken for its compiled file
        meta["source_crc32"] = -1
    return write_tree_registry(out, nodes, meta)


_BUILTIN = {
    "wrapper": "built-in wrapper table (tcplab/check/_wrappers.py)",
    "redirect": "built-in redirection rules (tcplab/check/_engine.py)",
    "pipeline": "built-in pipeline rule (tcplab/check/_engine.py)",
    "parser": "the shell parser (tcplab/check/_parse.py)",
}


def explain_rule(
    rule: str, registry: Registry | str | os.PathLike[str] | None = None, source: str = ""
) -> dict[str, Any] | None:
    """Where the node named ``rule`` of a reason came from (``tcplab check --explain``).

    A knowledge or v3-registry node gives its path in the tree (tool > subcommand > pattern),
    kind, level and source (file and position); a v2-registry entry its registry file; a
    built-in rule (``source`` = wrapper, redirect, pipeline, parser) names the module; None
    when nothing is known.
    """
    sources = resolve(registry)
    knowledge = sources.knowledge
    if isinstance(knowledge, CompiledKnowledge):
        found = knowledge.explain(rule)
        if found is not None:
            return found
    view = sources.view
    if isinstance(view, _V2View) and view.level(rule) is not None:
        return {"node": rule, "path": [rule], "kind": "tool", "source": f"registry {sources.path}"}
    if source in _BUILTIN:
        return {"node": rule, "path": [rule], "kind": "built-in", "source": _BUILTIN[source]}
    return None
