"""A small typed builder for Terraform JSON (``*.tf.json``) root modules.

We write our own builder instead of cdktf (archived upstream in 2025, and it needs Node.js
plus generated provider bindings): the output is plain Terraform JSON that ``terraform`` and
``tofu`` read, and every reference is built through :class:`Ref` so a test can resolve it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["REF_PATTERN", "Module", "Ref", "iter_refs"]

#: a ``${...}`` interpolation with the address it starts with
REF_PATTERN = re.compile(r"\$\{([^}]*)\}")
_ADDRESS = re.compile(r"(data\.[\w-]+\.[\w-]+|var\.[\w-]+|local\.[\w-]+|[a-z][\w]*\.[\w-]+)")


@dataclass(frozen=True)
class Ref:
    """The address of a declared resource or data source; ``ref.attr("id")`` interpolates."""

    address: str

    def attr(self, *path: str) -> str:
        """``${ADDRESS.a.b}``."""
        return "${" + ".".join((self.address, *path)) + "}"


@dataclass
class Module:
    """One root module: a directory of ``*.tf.json`` files."""

    name: str
    terraform: dict[str, Any] = field(default_factory=dict)
    providers: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, dict[str, Any]] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def provider(self, name: str, body: dict[str, Any]) -> None:
        """Configure a provider (repeat with ``alias`` in ``body`` for more regions)."""
        self.providers.append((name, body))

    def resource(self, rtype: str, name: str, body: dict[str, Any]) -> Ref:
        """Declare ``resource.RTYPE.NAME``; a duplicate is a programming error."""
        bucket = self.resources.setdefault(rtype, {})
        if name in bucket:
            raise ValueError(f"{self.name}: resource {rtype}.{name} declared twice")
        bucket[name] = body
        return Ref(f"{rtype}.{name}")

    def datasource(self, dtype: str, name: str, body: dict[str, Any]) -> Ref:
        """Declare ``data.DTYPE.NAME``."""
        self.data.setdefault(dtype, {})[name] = body
        return Ref(f"data.{dtype}.{name}")

    def output(self, name: str, value: Any, *, sensitive: bool = False, doc: str = "") -> None:
        """Declare an output that ``tcplab deploy`` (or the global module) consumes."""
        out: dict[str, Any] = {"value": value, "description": doc or name}
        if sensitive:
            out["sensitive"] = True
        self.outputs[name] = out

    def files(self) -> dict[str, dict[str, Any]]:
        """File name → JSON document."""
        provider: dict[str, list[dict[str, Any]]] = {}
        for pname, body in self.providers:
            provider.setdefault(pname, []).append(body)
        out: dict[str, dict[str, Any]] = {
            "versions.tf.json": {"terraform": self.terraform},
            "providers.tf.json": {"provider": provider},
            "main.tf.json": {"resource": self.resources},
            "outputs.tf.json": {"output": self.outputs},
        }
        if self.data:
            out["main.tf.json"] = {"data": self.data, "resource": self.resources}
        return out

    def write(self, directory: Path) -> list[Path]:
        """Write the files (sorted keys, two-space indent, trailing newline)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for fname, doc in self.files().items():
            path = directory / fname
            path.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            written.append(path)
        return written


def iter_refs(value: Any) -> Iterator[str]:
    """Every address referenced by an interpolation inside ``value`` (strings, lists, dicts)."""
    if isinstance(value, str):
        for expr in REF_PATTERN.findall(value):
            match = _ADDRESS.match(expr.strip())
            if match:
                yield match.group(1)
    elif isinstance(value, dict):
        for v in value.values():
            yield from iter_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from iter_refs(v)
