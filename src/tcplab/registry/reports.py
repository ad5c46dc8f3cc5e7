"""The ``registry lookup`` object: the command plus its decode report (no numpy)."""

from __future__ import annotations

import os

from tcplab.descriptor.reports import decode_report
from tcplab.errors import CommandNotFoundError
from tcplab.registry._file import Registry

TYPE_CHECKING = False  # not `typing`: the per-decision CLI commands import this module
if TYPE_CHECKING:
    from typing import Any

__all__ = ["lookup_report"]


def lookup_report(path: str | os.PathLike[str], command: str) -> dict[str, Any]:
    """``{"command": ..., **decode_report(hex)}`` for one command of a registry file.

    Raises:
        RegistryFormatError: the file is not a usable registry.
        CommandNotFoundError: the registry has no entry for ``command``.
    """
    with Registry(path) as reg:
        raw = reg.get_bytes(command)
        if raw is None:
            raise CommandNotFoundError(
                f"{command!r} is not in registry {path} ({len(reg)} entries); "
                f"`tcplab registry export {path}` lists them"
            )
    return {"command": command, **decode_report(raw.hex())}
