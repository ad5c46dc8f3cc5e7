"""The service's database (jobs, tokens, workers): the public entry point for the CLI.

Importing it loads SQLAlchemy; ``pip install 'tcplab[service]'`` provides it.
"""

from __future__ import annotations

from tcplab.service._db import ServiceDB

__all__ = ["ServiceDB"]
