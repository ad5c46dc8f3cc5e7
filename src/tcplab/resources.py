"""Files that ship inside the package (example specs, label sets, prompts, prices).

Everything is read through :mod:`importlib.resources`, so an installed wheel works without the
source tree. In a spec, ``tcplab:labels/tcplab-holdout-v1.csv`` names such a file.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from tcplab.errors import UsageError

__all__ = ["PACKAGE_PREFIX", "data_path", "example_spec", "resolve_data_ref", "shipped_labels"]

#: the prefix that names package data in a spec (``tcplab:labels/NAME.csv``)
PACKAGE_PREFIX = "tcplab:"


def data_path(relative: str) -> Path:
    """The file ``tcplab/data/RELATIVE`` of the installed package.

    Raises:
        UsageError: no such file ships with this tcplab.
    """
    if ".." in Path(relative).parts or Path(relative).is_absolute():
        raise UsageError(f"{PACKAGE_PREFIX}{relative}: not a package data name")
    ref = resources.files("tcplab").joinpath("data", *Path(relative).parts)
    if not ref.is_file():
        raise UsageError(f"{PACKAGE_PREFIX}{relative}: no such file ships with tcplab")
    return Path(str(ref))


def resolve_data_ref(value: str, base: Path) -> Path:
    """A spec path: ``tcplab:NAME`` is package data; a relative path is relative to ``base``."""
    if value.startswith(PACKAGE_PREFIX):
        return data_path(value.removeprefix(PACKAGE_PREFIX))
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p).resolve()


def example_spec(name: str = "quickstart") -> Path:
    """A shipped example spec (``quickstart``, ``llm``)."""
    return data_path(f"examples/{name}.yaml")


def shipped_labels(name: str = "tcplab-v1.csv") -> Path:
    """A label set that ships with tcplab."""
    return data_path(f"labels/{name}")
