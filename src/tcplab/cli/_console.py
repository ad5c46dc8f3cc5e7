"""Shared rich consoles and output helpers for the CLI."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

__all__ = ["console", "emit_json", "err_console"]

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def emit_json(obj: Any) -> None:
    """Write one JSON document to stdout (plain, machine-readable, no rich markup)."""
    sys.stdout.write(json.dumps(obj, sort_keys=False) + "\n")
