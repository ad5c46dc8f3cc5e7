"""Errors of the result and artifact stores (to be moved into :mod:`tcplab.errors`).

::

    TcplabError
    └── StoreError                   the SQL result store or the artifact store failed
        ├── StoreUnavailableError    the database / object store cannot be used
        │   └── StorePermissionError the server refused the credentials or the operation
        └── ArtifactIntegrityError   an object's SHA-256 or size differs from manifest.json
"""

from __future__ import annotations

from tcplab.errors import TcplabError

__all__ = [
    "ArtifactIntegrityError",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
]


class StoreError(TcplabError):
    """A result-store or artifact-store operation failed."""


class StoreUnavailableError(StoreError):
    """The database or object store cannot be reached (connection refused, DNS, timeout).

    The experiment engine catches this one and keeps running; ``tcplab runs sync`` can load
    the run later from its run directory.
    """


class StorePermissionError(StoreUnavailableError):
    """The server refused the credentials (wrong key, wrong password) or the operation.

    A subclass of :class:`StoreUnavailableError`: to a caller that keeps going without the
    store, a server that refuses it is as unavailable as one that does not answer.
    """


class ArtifactIntegrityError(StoreError):
    """A stored object does not match its ``manifest.json`` entry (SHA-256 or size)."""
