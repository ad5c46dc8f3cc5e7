"""Errors of the result and artifact stores (defined in :mod:`tcplab.errors`, re-exported)."""

from __future__ import annotations

from tcplab.errors import (
    ArtifactIntegrityError,
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
)

__all__ = [
    "ArtifactIntegrityError",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
]
