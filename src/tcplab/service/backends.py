"""Backends of the service: the public entry point for backends that live in other packages
(e.g. :mod:`tcplab.kube`), which subclass :class:`Backend` and call :func:`register_backend`.

Importing it loads :mod:`tcplab.experiment`.
"""

from __future__ import annotations

from tcplab.service._backends import (
    Backend,
    Execution,
    backend_names,
    get_backend,
    register_backend,
)

__all__ = ["Backend", "Execution", "backend_names", "get_backend", "register_backend"]
