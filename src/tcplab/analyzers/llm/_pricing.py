"""Token prices: a YAML table of USD per million input/output tokens per model.

Format (``tcplab/data/prices.yaml``)::

    version: 2025-06
    currency: USD
    unit: per_million_tokens
    models:
      gpt-4o-mini: {input: 0.15, output: 0.60}

An unlisted model has an unknown cost (None), never 0.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from tcplab.errors import UsageError

__all__ = ["ModelPrice", "PriceTable", "load_prices"]


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """USD per million tokens."""

    input: float
    output: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """USD for the given token counts."""
        return (prompt_tokens * self.input + completion_tokens * self.output) / 1e6


@dataclass(frozen=True, slots=True)
class PriceTable:
    """A loaded price table.

    Attributes:
        models: prices by model name.
        version: the table's ``version`` field.
        source: the file it came from.
        sha256: hash of the file's bytes.
    """

    models: dict[str, ModelPrice]
    version: str
    source: str
    sha256: str

    def lookup(self, *names: str | None) -> tuple[str, ModelPrice] | None:
        """The first match among ``names``: exact, else the longest key ``K`` with ``name``
        starting with ``K-`` (dated variants). None when no name matches."""
        for name in names:
            if not name:
                continue
            if name in self.models:
                return name, self.models[name]
            prefixed = [k for k in self.models if name.startswith(k + "-")]
            if prefixed:
                best = max(prefixed, key=len)
                return best, self.models[best]
        return None


def default_prices_path() -> Path:
    """The shipped ``tcplab/data/prices.yaml``."""
    return Path(str(resources.files("tcplab") / "data" / "prices.yaml"))


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Load a price table (default: the shipped one).

    Raises:
        UsageError: the file is missing or malformed (the message says which entry).
    """
    file = Path(path) if path else default_prices_path()
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise UsageError(f"price table {file} cannot be read: {exc}") from exc
    doc = yaml.safe_load(raw) or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("models", {}), dict):
        raise UsageError(f"price table {file}: expected a mapping with a 'models' mapping")
    models: dict[str, ModelPrice] = {}
    for name, entry in (doc.get("models") or {}).items():
        try:
            models[str(name)] = ModelPrice(float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError) as exc:
            raise UsageError(
                f"price table {file}: model {name!r} needs numeric 'input' and 'output' "
                "(USD per million tokens)"
            ) from exc
    return PriceTable(
        models=models,
        version=str(doc.get("version", "")),
        source=str(file),
        sha256=hashlib.sha256(raw).hexdigest(),
    )
